"""Real CPU figures on the real node: metrics-server scrapes the kubelet, ``kubectl top``
shows a busy pod's CPU, and a CPU HorizontalPodAutoscaler scales its Deployment out, then
back in once the load stops."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import pytest

from tests.node import kube, workloads
from tests.support import controlplane, node, node_metrics

pytestmark = [pytest.mark.k8s, pytest.mark.node, pytest.mark.slow]
# metrics-server scrapes every 10 s and the HPA controller syncs every 15 s; a pod needs a
# few scrapes before it has a rate.
METRICS_SECONDS = 180.0
SCALE_SECONDS = 240.0
NAME = "burn"


@pytest.fixture(scope="module")
def burner(cluster: controlplane.ControlPlane, real_node: node.RealNode) -> Iterator[str]:
    """A namespace with the CPU-burning Deployment and its HPA; yields the namespace."""
    with kube.namespace(cluster, "t-hpa") as ns:
        kube.apply(cluster, ns, workloads.build_burner(NAME, image=real_node.sandbox_image))
        kube.apply(cluster, ns, workloads.build_hpa(NAME))
        yield ns


def eventually(what: str, value: Callable[[], str | None], *, timeout: float, log: str) -> str:
    """Polls until ``value`` returns something; fails with the last state and ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := value()) is not None:
            return found
        time.sleep(2)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{log}")


def top_millicores(cluster: controlplane.ControlPlane, namespace: str) -> str | None:
    """The first burn pod's CPU in millicores per ``kubectl top pod``, once it is above 0."""
    result = cluster.kubectl("top", "pod", "-n", namespace, "--no-headers", check=False)
    match = re.search(rf"^{NAME}-\S+\s+(\d+)m\s", result.stdout, re.MULTILINE)
    return match.group(1) if match and int(match.group(1)) > 0 else None


def hpa_status(cluster: controlplane.ControlPlane, namespace: str) -> dict[str, object]:
    out = cluster.kubectl("get", "hpa", NAME, "-n", namespace, "-o", "json").stdout
    status: dict[str, object] = json.loads(out).get("status", {})
    return status


def current_utilization(status: dict[str, object]) -> int | None:
    for metric in status.get("currentMetrics") or []:  # type: ignore[attr-defined]
        current = metric.get("resource", {}).get("current", {})
        if "averageUtilization" in current:
            return int(current["averageUtilization"])
    return None


def test_kubectl_top_shows_the_busy_pods_cpu(
    cluster: controlplane.ControlPlane, real_node: node.RealNode, burner: str
) -> None:
    log = (real_node.layout.workdir / f"{node_metrics.METRICS_SERVER}.log").read_text
    millicores = eventually(
        "a CPU figure in kubectl top", lambda: top_millicores(cluster, burner),
        timeout=METRICS_SECONDS, log=log()[-3000:],
    )  # fmt: skip
    # It spins as hard as its CFS quota (100m) lets; a figure far below means no real data.
    assert int(millicores) >= 30


def test_the_hpa_scales_out_on_real_cpu_and_reports_it(
    cluster: controlplane.ControlPlane, burner: str
) -> None:
    def scaled_out() -> str | None:
        status = hpa_status(cluster, burner)
        replicas = int(str(status.get("desiredReplicas", 0)))
        return json.dumps(status) if replicas >= 2 else None

    status = json.loads(eventually(
        "the HPA to want 2 replicas", scaled_out, timeout=SCALE_SECONDS,
        log=json.dumps(hpa_status(cluster, burner)),
    ))  # fmt: skip
    utilization = current_utilization(status)
    assert utilization is not None, status
    assert utilization > workloads.TARGET_UTILIZATION, status
    cluster.kubectl("rollout", "status", f"deployment/{NAME}", "-n", burner, "--timeout=120s")
    ready = cluster.kubectl(
        "get", "deployment", NAME, "-n", burner, "-o", "jsonpath={.status.readyReplicas}"
    ).stdout
    assert int(ready) >= 2


def test_the_hpa_scales_back_in_once_the_load_stops(
    cluster: controlplane.ControlPlane, burner: str
) -> None:
    idle = [{"op": "replace", "path": "/spec/template/spec/containers/0/command",
             "value": ["sleep", "infinity"]}]  # fmt: skip
    cluster.kubectl(
        "patch", "deployment", NAME, "-n", burner, "--type=json", f"-p={json.dumps(idle)}"
    )

    def scaled_in() -> str | None:
        replicas = int(str(hpa_status(cluster, burner).get("desiredReplicas", 0)))
        return str(replicas) if replicas == 1 else None

    eventually(
        "the HPA to want 1 replica", scaled_in, timeout=SCALE_SECONDS,
        log=json.dumps(hpa_status(cluster, burner)),
    )  # fmt: skip
