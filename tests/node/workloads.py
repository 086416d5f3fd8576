"""Pure builders of what the volume tests run on the real node: a claim and restricted
pods that use it."""

from __future__ import annotations

from typing import Any

from tests.node import pods

DATA_DIR = "/data"
DATA_FILE = "greeting"
# Differs from the pod's own group (pods.UID), so a write through it proves the kubelet
# gave the volume to this group: the provisioner makes directories 0770 root:root.
FS_GROUP = 20001


def build_claim(name: str, *, size: str = "16Mi") -> dict[str, Any]:
    """A claim with no class, so it gets the cluster's default one."""
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": spec,
    }  # fmt: skip


def build_volume_pod(name: str, *, image: str, claim: str, script: str) -> dict[str, Any]:
    """A restricted, non-root run-once pod with ``fsGroup`` that mounts ``claim`` at
    DATA_DIR and runs the Python ``script``."""
    pod = pods.build_restricted_pod(
        name, image=image, command=["python3", "-c", script], restart_policy="Never"
    )
    pod["spec"]["securityContext"]["fsGroup"] = FS_GROUP
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": DATA_DIR}]
    return pod


def writer_script(text: str) -> str:
    """Writes ``text`` to the volume, then prints the file's group."""
    path = f"{DATA_DIR}/{DATA_FILE}"
    write = f"open({path!r}, 'w').write({text!r})"
    return f"import os\n{write}\nprint('gid', os.stat({path!r}).st_gid)\n"


def reader_script() -> str:
    return f"print('read', open({DATA_DIR + '/' + DATA_FILE!r}).read())\n"
