"""Helpers the journey's steps share: apply and patch, wait for a RagAgent condition, a probe
pod to send requests from, time a step."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from ragagent_operator import constants
from tests.node import kube, pods
from tests.support import controlplane

Condition = dict[str, Any]
# Every journey module's marks: the real node, as root (make e2e), slow; the timeout covers
# a first test that also waits for the images and the node (minutes on a cold, shared machine).
MARKS = [
    pytest.mark.k8s, pytest.mark.node, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)
]  # fmt: skip
# Each step's wall time, printed as the journey goes (make e2e shows them).
TIMES: dict[str, float] = {}


def apply(cluster: controlplane.ControlPlane, namespace: str, obj: Mapping[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def patch_spec(
    cluster: controlplane.ControlPlane, namespace: str, name: str, spec: Mapping[str, Any]
) -> None:
    """Merges ``spec`` into the RagAgent's spec, as ``kubectl patch --type=merge`` does."""
    patch = json.dumps({"spec": spec})
    cluster.kubectl("patch", "ragagent", name, "-n", namespace, "--type=merge", "-p", patch)


@contextlib.contextmanager
def probe_pod(
    cluster: controlplane.ControlPlane, namespace: str, name: str, *, image: str
) -> Iterator[str]:
    """A Ready probe pod (no labels) that a step runs its requests in; deleted after."""
    kube.apply(cluster, namespace, pods.build_probe_pod(name, image=image, labels={}))
    kube.wait_ready(cluster, namespace, name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "pod", name, "-n", namespace, "--wait=false")


def agent_selector(name: str) -> str:
    """The label selector of the RagAgent ``name``'s agent pods."""
    return (
        f"{constants.LABEL_INSTANCE}={name},{constants.LABEL_COMPONENT}={constants.COMPONENT_AGENT}"
    )


def get_json(cluster: controlplane.ControlPlane, namespace: str, *what: str) -> Any:
    """The object as JSON; None when it does not exist (yet)."""
    result = cluster.kubectl("get", "-n", namespace, *what, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def condition(body: Mapping[str, Any] | None, kind: str) -> Condition | None:
    for cond in ((body or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def wait_for_condition(
    cluster: controlplane.ControlPlane,
    namespace: str,
    name: str,
    wanted: Callable[[Condition], bool],
    *,
    kind: str = "Ready",
    timeout: float = 240.0,
    explain: Callable[[], str] = lambda: "",
) -> Condition:
    """Polls the RagAgent until its ``kind`` condition is ``wanted``; fails with the last
    condition seen, the agent pods and ``explain()`` (a log tail)."""
    deadline = time.monotonic() + timeout
    last: Condition | None = None
    while time.monotonic() < deadline:
        last = condition(get_json(cluster, namespace, "ragagent", name), kind)
        if last is not None and wanted(last):
            return last
        time.sleep(1)
    pods = cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide", check=False).stdout
    pytest.fail(f"RagAgent {name} {kind} never as wanted; last: {last}\n{pods}\n{explain()}")


def wait_pod_ready(cluster: controlplane.ControlPlane, namespace: str, name: str) -> None:
    wait = ("wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}", "--timeout=180s")
    result = cluster.kubectl(*wait, check=False)
    describe = cluster.kubectl("describe", "pod", "-n", namespace, name, check=False).stdout
    assert result.returncode == 0, f"{result.stderr}\n{describe[-3000:]}"


@contextlib.contextmanager
def timed(step: str) -> Iterator[None]:
    """Records and prints the wall time of ``step`` (marked FAILED when it raised)."""
    started = time.monotonic()
    outcome = "FAILED after "
    try:
        yield
        outcome = ""
    finally:
        TIMES[step] = time.monotonic() - started
        print(f"\n[e2e] {step}: {outcome}{TIMES[step]:.1f}s")


def wait_until(
    check: Callable[[], Any],
    what: str,
    *,
    timeout: float = 120.0,
    explain: Callable[[], str] = lambda: "",
) -> Any:
    """Polls ``check`` every second until it returns something truthy, which is returned;
    fails with ``explain()`` (what was last seen) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{explain()}")


def has_default_storage_class(cluster: controlplane.ControlPlane) -> bool:
    classes = json.loads(cluster.kubectl("get", "storageclass", "-o", "json").stdout)["items"]
    default = "storageclass.kubernetes.io/is-default-class"
    return any(c["metadata"].get("annotations", {}).get(default) == "true" for c in classes)


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
