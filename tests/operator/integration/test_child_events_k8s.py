"""What a child's event makes the operator do (issue 17), with operators of the test's own that
resync once an hour, so only an event, or the list at start, can bring a change.

A status-only refresh never claims a spec change it did not apply. A child's event makes the
operator refresh its owner's status (``reconcile.refresh_status``). That refresh used to write
``status.observedGeneration`` from the RagAgent it had just read, so a spec change made a
moment before it read as already reconciled: after an API server restart the child watches
come back before the RagAgent watch, and in 3 of 3 kept soak logs the probe's change waited
about 37 s for the resync instead of being applied at once. Here the order is made certain:
the RagAgent's operator is killed, the spec changes, the refresh runs (the operator's own
code, in the test, against the real API server), and a new operator starts; it must see the
change as an update and apply it.

A deleted Deployment comes back at once, not at the next resync: in a control-plane soak the
garbage collector deleted a re-created RagAgent's Deployment just after the operator had
taken it over from the deleted namesake, and the agent had none for a minute.

A stale event of a deleted RagAgent leaves its successor of the same name alone. In a soak,
such an event waited for the lock while another reconcile ran, and was reconciled after the
successor's: it refused the successor's children as namesakes and wrote its own status
(Reconciled=False, its old observedGeneration) onto the successor, which then waited a
minute for its resync. A reconcile now reads the RagAgent afresh under the lock.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ragagent_operator import config, k8s, reconcile
from tests.operator.integration.agents import (
    DATABASE_URL,
    agent_status,
    apply,
    condition,
    db_secret,
    deployment,
    patch_agent,
    rag,
)
from tests.operator.integration.harness import (
    RESYNC_SECONDS,
    Operator,
    get_json,
    kill,
    start_operator,
    stop,
    wait_for,
)
from tests.support import controlplane

pytestmark = pytest.mark.k8s
# Both above the session operator's priority, so it stays paused throughout: the killed one's
# peering record outlives it by the harness's lifetime, and the second one outranks it.
FIRST_PRIORITY, SECOND_PRIORITY = 2**31 - 2, 2**31 - 1


@pytest.fixture
def own_operator(
    cluster: controlplane.ControlPlane, installed: Path, namespace: str
) -> Iterator[dict[str, Operator]]:
    """Starts this test's operators for ``namespace`` (resync: an hour); stops them after."""
    started: dict[str, Operator] = {}
    yield started
    for running in started.values():
        if running.process.poll() is None:
            stop(running)


def start(
    cluster: controlplane.ControlPlane, installed: Path, namespace: str, tag: str, priority: int
) -> Operator:
    env = {"RAGAGENT_OPERATOR_NAMESPACES": namespace}
    return start_operator(
        cluster, installed, f"{namespace}-{tag}", priority=priority, resync_seconds=3600,
        extra_env=env,
    )  # fmt: skip


@pytest.fixture
def first_operator(
    cluster: controlplane.ControlPlane,
    installed: Path,
    namespace: str,
    own_operator: dict[str, Operator],
) -> tuple[Operator, str]:
    """The test's first operator, and RagAgent "docs" (1 replica) applied; returns both."""
    first = own_operator["first"] = start(cluster, installed, namespace, "a", FIRST_PRIORITY)
    db_secret(cluster, namespace, "docs-pg", DATABASE_URL)
    agent = rag("docs", replicas=1, secrets={"provider": "kubernetes"})
    assert apply(cluster, namespace, agent).returncode == 0
    return first, agent


@pytest.fixture
async def operator_api(installed: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[k8s.Api]:
    """An API client with the operator's own credentials, to run its code in the test."""
    monkeypatch.setenv("KUBECONFIG", str(installed))
    api = k8s.connect()
    yield api
    await k8s.close(api)


def replicas(cluster: controlplane.ControlPlane, namespace: str) -> int:
    return int((deployment(cluster, namespace, "docs").get("spec") or {}).get("replicas") or 0)


def reconciled_generation(cluster: controlplane.ControlPlane, namespace: str) -> int | None:
    """The generation the status observed, once Reconciled is True; None before."""
    if condition(cluster, namespace, "Reconciled").get("status") != "True":
        return None
    return int(agent_status(cluster, namespace).get("observedGeneration") or 0) or None


async def test_a_spec_change_read_by_a_status_refresh_is_still_applied(
    cluster: controlplane.ControlPlane,
    installed: Path,
    namespace: str,
    own_operator: dict[str, Operator],
    first_operator: tuple[Operator, str],
    operator_api: k8s.Api,
) -> None:
    first, _ = first_operator
    wait_for(
        lambda: reconciled_generation(cluster, namespace) == 1 and replicas(cluster, namespace),
        "generation 1 reconciled",
        operator=first,
    )
    kill(first)

    patch_agent(cluster, namespace, {"spec": {"replicas": 2}})
    await reconcile.refresh_status(operator_api, config.OperatorSettings(), namespace, "docs")
    body = get_json(cluster, "ragagent", "docs", "-n", namespace)
    assert body["metadata"]["generation"] == 2
    assert body["status"]["observedGeneration"] == 1, "the refresh claimed the new spec"
    assert reconcile.trigger_for(body, None) == "update"

    second = own_operator["second"] = start(cluster, installed, namespace, "b", SECOND_PRIORITY)
    wait_for(
        lambda: replicas(cluster, namespace) == 2,
        "the Deployment at 2 replicas (the change applied without a resync)",
        timeout=30,
        operator=second,
    )
    wait_for(lambda: reconciled_generation(cluster, namespace) == 2, "gen 2", operator=second)


def test_a_deleted_deployment_is_put_back_without_waiting_for_the_resync(
    cluster: controlplane.ControlPlane,
    installed: Path,
    namespace: str,
    own_operator: dict[str, Operator],
) -> None:
    watching = own_operator["first"] = start(cluster, installed, namespace, "a", FIRST_PRIORITY)
    db_secret(cluster, namespace, "docs-pg", DATABASE_URL)
    written = apply(cluster, namespace, rag("docs", secrets={"provider": "kubernetes"}))
    assert written.returncode == 0
    wait_for(lambda: reconciled_generation(cluster, namespace), "reconciled", operator=watching)
    gone = deployment(cluster, namespace, "docs")["metadata"]["uid"]

    cluster.kubectl("delete", "deployment", "docs", "-n", namespace)

    def put_back() -> bool:
        live = deployment(cluster, namespace, "docs")
        return bool(live) and live["metadata"]["uid"] != gone

    wait_for(put_back, "a new Deployment (the resync is an hour away)", timeout=30,
             operator=watching)  # fmt: skip


def test_a_ragagent_being_deleted_gets_no_child_back(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    """A finalizer holds the deleted RagAgent, as a foreground deletion would: the deleted
    Deployment's event must not make the operator write it again against the collector."""
    db_secret(cluster, namespace, "docs-pg", DATABASE_URL)
    written = apply(cluster, namespace, rag("docs", secrets={"provider": "kubernetes"}))
    assert written.returncode == 0
    wait_for(lambda: reconciled_generation(cluster, namespace), "reconciled", operator=operator)
    patch_agent(cluster, namespace, {"metadata": {"finalizers": ["test.ragagent.dev/hold"]}})
    cluster.kubectl("delete", "ragagent", "docs", "-n", namespace, "--wait=false")
    try:
        cluster.kubectl("delete", "deployment", "docs", "-n", namespace)
        time.sleep(3 * RESYNC_SECONDS)  # a child event and three resyncs would have put it back
        assert deployment(cluster, namespace, "docs") == {}
    finally:
        patch_agent(cluster, namespace, {"metadata": {"finalizers": None}})


async def test_a_stale_body_of_a_deleted_ragagent_writes_nothing_onto_its_successor(
    cluster: controlplane.ControlPlane,
    namespace: str,
    first_operator: tuple[Operator, str],
    operator_api: k8s.Api,
) -> None:
    running, agent = first_operator
    patch_agent(cluster, namespace, {"spec": {"replicas": 2}})
    wait_for(lambda: reconciled_generation(cluster, namespace) == 2, "gen 2", operator=running)
    stale = get_json(cluster, "ragagent", "docs", "-n", namespace)
    cluster.kubectl("delete", "ragagent", "docs", "-n", namespace)
    assert apply(cluster, namespace, agent).returncode == 0
    successor = get_json(cluster, "ragagent", "docs", "-n", namespace)["metadata"]["uid"]

    def taken_over() -> bool:
        # {} while the collector has removed the old one and the successor's is not made yet
        live = deployment(cluster, namespace, "docs")
        owners = (live.get("metadata") or {}).get("ownerReferences") or []
        return reconciled_generation(cluster, namespace) == 1 and any(
            owner["uid"] == successor for owner in owners
        )

    wait_for(taken_over, "the successor reconciled with its Deployment", operator=running)
    before = agent_status(cluster, namespace)

    settings = config.OperatorSettings()
    failed = await reconcile.reconcile(operator_api, settings, stale, trigger="update")

    assert failed == []
    assert agent_status(cluster, namespace) == before
    assert taken_over()
