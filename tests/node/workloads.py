"""Pure builders of what the volume and autoscaling tests run on the real node: a claim,
restricted pods that use it, a CPU-burning Deployment and its HorizontalPodAutoscaler."""

from __future__ import annotations

from typing import Any

from tests.node import pods

DATA_DIR = "/data"
DATA_FILE = "greeting"
# Differs from the pod's own group (pods.UID), so a write through it proves the kubelet
# gave the volume to this group: the provisioner makes directories 0770 root:root.
FS_GROUP = 20001
BURN_REQUEST = "20m"
# Each burning pod may use a tenth of a core (the CFS quota), whatever the HPA asks for: the
# machine has two cores shared by everyone. That is still five times its request.
BURN_LIMIT = "100m"
TARGET_UTILIZATION = 50


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


def build_burner(name: str, *, image: str) -> dict[str, Any]:
    """A Deployment of one pod on the real node that spins a CPU as hard as its limit lets."""
    template = pods.build_restricted_pod(
        name, image=image, command=["python3", "-c", "while 1: pass"]
    )
    template["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": BURN_REQUEST}, "limits": {"cpu": BURN_LIMIT},
    }  # fmt: skip
    del template["apiVersion"], template["kind"]
    selector = {"matchLabels": {"app": name}}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": selector, "template": template},
    }  # fmt: skip


def build_hpa(name: str, *, max_replicas: int = 2) -> dict[str, Any]:
    """CPU utilization against the request; scale-in without the default five-minute wait,
    so a test sees it."""
    metric = {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": TARGET_UTILIZATION},
        },
    }
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 0}}
    spec = {
        "scaleTargetRef": target, "minReplicas": 1, "maxReplicas": max_replicas,
        "metrics": [metric], "behavior": behavior,
    }  # fmt: skip
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name}, "spec": spec,
    }  # fmt: skip
