"""kubectl helpers of the real-node tests: a throwaway namespace, apply, a field of an object,
a run-once pod's outcome, and commands run inside a pod (the network probes)."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
from collections.abc import Callable, Iterator, Mapping

from tests.support import controlplane, processes

READY_TIMEOUT = "120s"
PROBE_TIMEOUT_SECONDS = 60.0
# One TCP connection attempt; kube-router drops or rejects a denied one.
CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close()"
FETCH = (
    "import sys, urllib.request; "
    "print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"
)
RESOLVE = "import socket, sys; print(socket.gethostbyname(sys.argv[1]))"


@contextlib.contextmanager
def namespace(
    cluster: controlplane.ControlPlane, prefix: str, labels: Mapping[str, str] | None = None
) -> Iterator[str]:
    """A new namespace (with ``labels``) whose default service account exists; deleted after."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    metadata = {"name": name, "labels": dict(labels or {})}
    apply(cluster, "default", {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
    cluster.wait_for_service_account("default", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def apply(cluster: controlplane.ControlPlane, namespace: str, obj: Mapping[str, object]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def field(
    cluster: controlplane.ControlPlane, namespace: str, kind: str, name: str, path: str
) -> str:
    args = ("get", kind, name, "-n", namespace, "-o", f"jsonpath={{{path}}}")
    return cluster.kubectl(*args).stdout.strip()


def wait_ready(cluster: controlplane.ControlPlane, namespace: str, *pods: str) -> None:
    wait = ("wait", "-n", namespace, "--for=condition=Ready", *(f"pod/{p}" for p in pods))
    cluster.kubectl(*wait, f"--timeout={READY_TIMEOUT}")


def in_pod(
    cluster: controlplane.ControlPlane, namespace: str, pod: str, *argv: str
) -> subprocess.CompletedProcess[str]:
    """``argv`` run in the pod's container through the kubelet; never raises on failure."""
    return cluster.kubectl("exec", "-n", namespace, pod, "--", *argv, check=False)


def can_connect(
    cluster: controlplane.ControlPlane, namespace: str, pod: str, host: str, port: int
) -> bool:
    return (
        in_pod(cluster, namespace, pod, "python3", "-c", CONNECT, host, str(port)).returncode == 0
    )


def fetch(cluster: controlplane.ControlPlane, namespace: str, pod: str, url: str) -> str:
    """The body at ``url`` as fetched from the pod; raises with its error if that fails."""
    result = in_pod(cluster, namespace, pod, "python3", "-c", FETCH, url)
    assert result.returncode == 0, f"fetching {url} from {pod} failed: {result.stderr}"
    return result.stdout.strip()


def resolve(cluster: controlplane.ControlPlane, namespace: str, pod: str, name: str) -> str | None:
    """The address ``name`` resolves to in the pod, or None if it does not resolve."""
    result = in_pod(cluster, namespace, pod, "python3", "-c", RESOLVE, name)
    return result.stdout.strip() if result.returncode == 0 else None


def eventually(what: str, check: Callable[[], bool]) -> None:
    """Waits until ``check()`` holds: policy and Service rules are programmed asynchronously."""
    processes.wait_until(what, check, timeout=PROBE_TIMEOUT_SECONDS, interval=0.5)
