"""Journey step 9 (``make e2e``): the agent's HorizontalPodAutoscaler on the real node.

A RagAgent on the external PostgreSQL pod gets its API key (``kubectl exec ... ragagent apikey
create``), then turns autoscaling on once ``kubectl top`` shows it idle: the CLI's start is
a few busy seconds of the agent pod's CPU that the HPA would otherwise act on. Chat
completions from a client pod through the agent's Service then raise its CPU, metrics-server
reports it, the HPA scales the Deployment out, and back in once the load stops.

Throughout, the operator leaves ``spec.replicas`` to the HPA: its resyncs, and a spec change
under load (``kubectl scale ragagent``, which autoscaling overrides), write nothing to the
Deployment; per the API server's audit log only the HPA's scale writes touch it, and its
generation moves only with the replica count.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ragagent_operator import constants
from tests.e2e import chat, load, manifests, steps
from tests.node import kube
from tests.operator.integration import harness
from tests.support import audit, controlplane, node

pytestmark = steps.MARKS
AGENT = "burst"
URL_SECRET = "burst-db"
SELECTOR = steps.agent_selector(AGENT)
# Low, so that a few chat requests a second are well above it while an idle agent (probes,
# metrics) stays below: 10 % of the default request (250m) is 25 millicores a pod.
TARGET_PERCENT = 10
MAX_REPLICAS = 2
# The HPA waits 300 s by default before it scales in; the RagAgent's own behavior field,
# passed through to the HPA, makes it 15 s, as a user wanting a quick scale-in would.
SCALE_DOWN_WINDOW_SECONDS = 15
AUTOSCALING = {
    "enabled": True, "minReplicas": 1, "maxReplicas": MAX_REPLICAS,
    "targetCPUUtilizationPercentage": TARGET_PERCENT,
    "behavior": {"scaleDown": {"stabilizationWindowSeconds": SCALE_DOWN_WINDOW_SECONDS}},
}  # fmt: skip
# Below the agent's limit per client address before authentication (600 a minute): every
# request is a chat, none a cheap 429.
LOAD_RATE = 5.0
LOAD_WORKERS = 4
LOAD_LIMIT_SECONDS = 900.0  # the script stops by itself should the test never stop it
# metrics-server scrapes every 10 s and the HPA syncs every 15 s; a new agent pod needs a
# minute or more to be Ready on the shared machine.
METRICS_SECONDS = 180.0
SCALE_SECONDS = 360.0
RESYNCS = 3  # operator resyncs that must pass while the HPA holds MAX_REPLICAS


def build_agent(external_agent: manifests.ExternalAgent) -> dict[str, Any]:
    """One replica, autoscaling still off. One API key makes all the load: its rate limits
    must not answer 429s (which cost the agent almost no CPU) instead of chats. The counters
    are in the database from the start: with storage auto, turning autoscaling on would move
    them there and so roll the pod just before the HPA's first reading."""
    agent = external_agent(AGENT, URL_SECRET)
    agent["spec"]["rateLimit"] = {
        "requestsPerMinute": 100000, "burst": 1000, "tokensPerDay": 0, "storage": "postgres",
    }  # fmt: skip
    return agent


@pytest.fixture(scope="module")
def agent(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    host_operator: harness.Operator,
    db_url: str,
    external_agent: manifests.ExternalAgent,
) -> str:
    """The agent on the external database, by pod IP as the crash-loop step reaches it."""
    ns = journey_namespace
    with steps.timed("HPA: agent on the external database -> Ready=True"):
        steps.apply(cluster, ns, manifests.build_url_secret(URL_SECRET, db_url))
        steps.apply(cluster, ns, build_agent(external_agent))
        steps.wait_for_condition(
            cluster, ns, AGENT, lambda c: c["status"] == "True", explain=host_operator.log
        )
    return AGENT


@pytest.fixture(scope="module")
def watch(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    agent: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[load.DeploymentWatch]:
    path = tmp_path_factory.mktemp("hpa") / "deployment-versions.txt"
    watching = load.DeploymentWatch(cluster, journey_namespace, agent, path)
    yield watching
    watching.stop()


def hpa_status(cluster: controlplane.ControlPlane, namespace: str) -> dict[str, Any]:
    body = steps.get_json(cluster, namespace, "hpa", AGENT)
    return dict((body or {}).get("status") or {})


def utilization(status: dict[str, Any]) -> int | None:
    """The HPA's last CPU reading in percent of the pods' request; None before it has one."""
    for metric in status.get("currentMetrics") or []:
        current = (metric.get("resource") or {}).get("current") or {}
        if "averageUtilization" in current:
            return int(current["averageUtilization"])
    return None


def deployment(cluster: controlplane.ControlPlane, namespace: str) -> dict[str, Any]:
    return dict(steps.get_json(cluster, namespace, "deployment", AGENT))


@pytest.fixture(scope="module")
def threshold(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    api_key: str,
    client: str,
    watch: load.DeploymentWatch,
) -> float:
    """Autoscaling turned on once the idle agent is below target; the HPA holds 1 replica and
    reads a utilization below target. Returns the target in millicores a pod."""
    ns = journey_namespace
    cpu = ".spec.template.spec.containers[0].resources.requests.cpu"
    target = load.millicores(kube.field(cluster, ns, "deployment", AGENT, cpu)) * TARGET_PERCENT
    target /= 100

    def idle() -> dict[str, int] | None:
        figures = load.top_millicores(cluster, ns, SELECTOR)
        return figures if len(figures) == 1 and max(figures.values()) < target else None

    def holding_one() -> dict[str, Any] | None:
        status = hpa_status(cluster, ns)
        reading = utilization(status)
        at_one = status.get("currentReplicas") == status.get("desiredReplicas") == 1
        return status if at_one and reading is not None and reading < TARGET_PERCENT else None

    with steps.timed("HPA: idle agent below target in kubectl top, autoscaling on at 1 replica"):
        steps.wait_until(idle, "kubectl top: the idle agent below target", timeout=METRICS_SECONDS)
        steps.patch_spec(cluster, ns, AGENT, {"autoscaling": AUTOSCALING})
        steps.wait_until(
            holding_one, "the HPA at 1 replica, below target", timeout=METRICS_SECONDS,
            explain=lambda: json.dumps(hpa_status(cluster, ns)),
        )  # fmt: skip
    return target


@dataclasses.dataclass
class Window:
    """The load, and where the audit log and the Deployment's watch stood when it began."""

    chat: load.ChatLoad
    audit_offset: int
    watch_mark: int
    started: float


@pytest.fixture(scope="module")
def window(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    api_key: str,
    client: str,
    watch: load.DeploymentWatch,
    threshold: float,
) -> Iterator[Window]:
    offset = audit.offset(cluster.audit_log_path)
    mark = len(watch.versions())
    url = f"http://{AGENT}:{chat.APP_PORT}"  # the pod's search path completes the name
    chatting = load.ChatLoad(
        cluster, journey_namespace, client, url=url, key=api_key, rate=LOAD_RATE,
        workers=LOAD_WORKERS, limit_seconds=LOAD_LIMIT_SECONDS,
    )  # fmt: skip
    try:
        yield Window(chatting, offset, mark, time.monotonic())
    finally:
        chatting.stop()


def test_chat_load_raises_the_agents_cpu_and_the_hpa_scales_out(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    journey_namespace: str,
    threshold: float,
    window: Window,
) -> None:
    ns = journey_namespace

    def busy() -> dict[str, int] | None:
        figures = load.top_millicores(cluster, ns, SELECTOR)
        return figures if figures and max(figures.values()) > threshold else None

    def scaled_out() -> dict[str, Any] | None:
        status = hpa_status(cluster, ns)
        return status if status.get("desiredReplicas") == MAX_REPLICAS else None

    def ready() -> bool:
        return bool(deployment(cluster, ns)["status"].get("readyReplicas") == MAX_REPLICAS)

    with steps.timed("HPA: chat load -> kubectl top shows the agent above target"):
        busy_figures = steps.wait_until(busy, "kubectl top above target", timeout=METRICS_SECONDS)
    with steps.timed("HPA: scaled out to 2 Ready agent pods"):
        status = steps.wait_until(
            scaled_out, "the HPA to want 2 replicas", timeout=SCALE_SECONDS,
            explain=lambda: json.dumps(hpa_status(cluster, ns)),
        )  # fmt: skip
        steps.wait_until(ready, "2 Ready agent pods", timeout=SCALE_SECONDS)
    print(f"[e2e] HPA: load start -> 2 Ready pods: {time.monotonic() - window.started:.1f}s")
    print(f"[e2e] HPA: kubectl top under load {busy_figures}, threshold {threshold:.0f}m")
    reading = utilization(status)
    assert reading is not None, status
    assert reading > TARGET_PERCENT, status
    assert deployment(cluster, ns)["spec"]["replicas"] == MAX_REPLICAS
    agent_pods = steps.get_json(cluster, ns, "pods", "-l", SELECTOR)["items"]
    assert {pod["spec"]["nodeName"] for pod in agent_pods} == {real_node.name}


def test_the_operator_leaves_the_replicas_to_the_hpa_through_resyncs_and_a_spec_change(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    host_operator: harness.Operator,
    window: Window,
) -> None:
    """``kubectl scale ragagent`` sets spec.replicas, which autoscaling overrides: the
    reconcile of that new generation, and the resyncs after it, keep the HPA's count."""
    ns, port = journey_namespace, host_operator.metrics_port
    timers, updates = load.reconciles(port, "timer"), load.reconciles(port, "update")

    def reconciled() -> bool:
        done_updates = load.reconciles(port, "update") > updates
        return done_updates and load.reconciles(port, "timer") >= timers + RESYNCS

    with steps.timed("HPA: kubectl scale ragagent and 3 resyncs under load keep 2 replicas"):
        cluster.kubectl("scale", "ragagent", AGENT, "-n", ns, "--replicas=3")
        steps.wait_until(
            reconciled, f"an update reconcile and {RESYNCS} resyncs", timeout=120,
            explain=lambda: host_operator.log()[-3000:],
        )  # fmt: skip
    assert deployment(cluster, ns)["spec"]["replicas"] == MAX_REPLICAS
    assert hpa_status(cluster, ns).get("desiredReplicas") == MAX_REPLICAS


def test_replicas_scale_back_in_once_the_load_stops(
    cluster: controlplane.ControlPlane, journey_namespace: str, window: Window
) -> None:
    ns = journey_namespace
    counts = window.chat.stop()
    stopped = time.monotonic()

    def scaled_in() -> bool:
        body = deployment(cluster, ns)
        status = body["status"]
        one = body["spec"]["replicas"] == status.get("replicas") == status.get("readyReplicas")
        return bool(one and status.get("replicas") == 1)

    with steps.timed("HPA: load stopped -> scaled back in to 1 agent pod"):
        steps.wait_until(
            scaled_in, "1 agent pod", timeout=SCALE_SECONDS,
            explain=lambda: json.dumps(hpa_status(cluster, ns)),
        )  # fmt: skip
    print(f"[e2e] HPA: chat outcomes under load {counts}")
    # Scale-out and the resyncs cost no request: every chat was answered.
    assert set(counts) == {"200"}, counts
    assert counts["200"] > 0, counts
    assert time.monotonic() - stopped < SCALE_SECONDS


def test_only_the_hpa_moved_the_deployments_replicas(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    watch: load.DeploymentWatch,
    window: Window,
) -> None:
    """From the load's start on: the audit log's writes to the Deployment are the HPA's
    scale writes only (none by the operator); each new generation changed the replica count
    and nothing else; and the operator's applied fields do not include spec.replicas."""
    ns = journey_namespace
    writes = [
        write
        for write in audit.read_writes(cluster.audit_log_path, window.audit_offset)
        if write.resource == "deployments" and write.namespace == ns and write.name == AGENT
        and write.subresource != "status"
    ]  # fmt: skip
    assert not audit.by_user(writes, harness.OPERATOR_USER), audit.tally(writes)
    assert {write.subresource for write in writes} == {"scale"}, audit.tally(writes)
    versions = load.changes(watch.versions()[max(0, window.watch_mark - 1) :])
    pairs = list(itertools.pairwise(versions))
    assert all((a[0] != b[0]) == (a[1] != b[1]) for a, b in pairs), versions
    replica_changes = sum(1 for a, b in pairs if a[1] != b[1])
    assert replica_changes == sum(1 for write in writes if write.code == 200), versions
    assert [versions[0][1], max(v[1] for v in versions), versions[-1][1]] == [1, 2, 1], versions
    shown = steps.get_json(cluster, ns, "deployment", AGENT, "--show-managed-fields")
    assert_replicas_owned_by_scale_writes_only(shown["metadata"]["managedFields"])


def assert_replicas_owned_by_scale_writes_only(managed: list[dict[str, Any]]) -> None:
    owners = [e for e in managed if "f:replicas" in (e.get("fieldsV1") or {}).get("f:spec", {})]
    assert owners, managed
    assert all(e.get("subresource") == "scale" for e in owners), owners
    applied = [e for e in managed if e.get("manager") == constants.FIELD_MANAGER]
    assert applied, managed  # the operator still applies the rest of the Deployment
    assert all("f:replicas" not in e["fieldsV1"].get("f:spec", {}) for e in applied), applied
