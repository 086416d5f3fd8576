"""Claims bind on the real node: the default StorageClass (local-path-provisioner) waits for
the first pod, makes a directory under the node's work directory that a non-root pod writes
through its ``fsGroup``, keeps the data for the next pod, and removes it with the claim."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.node import kube, workloads
from tests.support import controlplane, node, node_storage

pytestmark = [pytest.mark.k8s, pytest.mark.node, pytest.mark.slow]
RUN_SECONDS = 180.0
DELETE_SECONDS = 120.0
TEXT = "kept-on-a-real-volume"


@pytest.fixture(scope="module")
def volume_namespace(cluster: controlplane.ControlPlane) -> Iterator[str]:
    with kube.namespace(cluster, "t-volumes") as name:
        yield name


def run_to_completion(
    cluster: controlplane.ControlPlane, real: node.RealNode, namespace: str, pod: Mapping[str, Any]
) -> str:
    """Applies a run-once pod; returns its logs once it Succeeded, fails with them (and the
    provisioner's) as soon as it Failed."""
    kube.apply(cluster, namespace, pod)
    name, phase = pod["metadata"]["name"], ""
    deadline = time.monotonic() + RUN_SECONDS
    while phase not in ("Succeeded", "Failed") and time.monotonic() < deadline:
        time.sleep(1)
        phase = kube.field(cluster, namespace, "pod", name, ".status.phase")
    logs = cluster.kubectl("logs", "-n", namespace, name, check=False)
    provisioner = (real.layout.workdir / f"{node_storage.PROVISIONER}.log").read_text()[-3000:]
    assert phase == "Succeeded", f"{name}: {phase}\n{logs.stdout}{logs.stderr}\n{provisioner}"
    return logs.stdout


def volume_path(cluster: controlplane.ControlPlane, namespace: str, claim: str) -> Path:
    volume = kube.field(cluster, namespace, "pvc", claim, ".spec.volumeName")
    return Path(cluster.kubectl("get", "pv", volume, "-o", "jsonpath={.spec.local.path}").stdout)


def test_a_claim_waits_for_its_first_pod_then_binds_on_the_real_node(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    volume_namespace: str,
) -> None:
    ns = volume_namespace
    kube.apply(cluster, ns, workloads.build_claim("data"))
    time.sleep(2)  # a class that binds at once would have bound by now
    assert kube.field(cluster, ns, "pvc", "data", ".status.phase") == "Pending"
    storage_class = node_storage.storage_class_name(real_node.network)
    assert kube.field(cluster, ns, "pvc", "data", ".spec.storageClassName") == storage_class
    writer = workloads.build_volume_pod(
        "writer", image=real_node.sandbox_image, claim="data", script=workloads.writer_script(TEXT)
    )
    logs = run_to_completion(cluster, real_node, ns, writer)
    assert f"gid {workloads.FS_GROUP}" in logs  # written as a member of fsGroup only
    assert kube.field(cluster, ns, "pvc", "data", ".status.phase") == "Bound"
    assert kube.field(cluster, ns, "pod", "writer", ".spec.nodeName") == real_node.name
    path = volume_path(cluster, ns, "data")
    assert path.parent == node_storage.volumes_dir(real_node.layout)
    assert (path / workloads.DATA_FILE).read_text() == TEXT


def test_a_second_pod_reads_what_the_first_wrote(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    volume_namespace: str,
) -> None:
    reader = workloads.build_volume_pod(
        "reader", image=real_node.sandbox_image, claim="data", script=workloads.reader_script()
    )
    assert f"read {TEXT}" in run_to_completion(cluster, real_node, volume_namespace, reader)


def test_deleting_the_claim_removes_the_volume_and_its_directory(
    cluster: controlplane.ControlPlane, real_node: node.RealNode, volume_namespace: str
) -> None:
    ns = volume_namespace
    path = volume_path(cluster, ns, "data")
    volume = kube.field(cluster, ns, "pvc", "data", ".spec.volumeName")
    assert path.is_dir()
    cluster.kubectl("delete", "pod", "writer", "reader", "-n", ns, "--wait=true")
    cluster.kubectl("delete", "pvc", "data", "-n", ns, "--wait=true")
    deadline = time.monotonic() + DELETE_SECONDS
    while time.monotonic() < deadline and (path.exists() or pv_exists(cluster, volume)):
        time.sleep(1)
    assert not path.exists(), (real_node.layout.workdir / "local-path-provisioner.log").read_text()
    assert not pv_exists(cluster, volume)


def pv_exists(cluster: controlplane.ControlPlane, name: str) -> bool:
    result = cluster.kubectl("get", "pv", name, "--ignore-not-found", "-o", "name")
    return result.stdout.strip() != ""
