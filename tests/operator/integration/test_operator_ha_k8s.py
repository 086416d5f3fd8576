"""HA, restarts and missing prerequisites, with several real operator processes.

Replicas meet in the one ClusterKopfPeering ``ragagent``; the highest priority is active and
every other replica pauses. The session's operator has the lowest priority (MAIN_PRIORITY),
so the replicas a test starts above it take over, and it must stay silent while they run.
Who reconciled is read from each replica's own ``ragagent_operator_reconciles_total``.
"""

from __future__ import annotations

import functools
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import watch

from tests.operator.integration.agents import (
    DATABASE_URL,
    agent_with_condition,
    apply,
    condition,
    db_secret,
    deployment,
    operator_metric,
    rag,
    ready_agent,
)
from tests.operator.integration.harness import (
    MAIN_PRIORITY,
    PEERING_LIFETIME_SECONDS,
    RESYNC_SECONDS,
    Operator,
    assert_workload_children,
    get_json,
    is_active,
    kill,
    start_operator,
    stop,
    wait_for,
)
from tests.operator.integration.writes import assert_noop_resync
from tests.support import controlplane, peering
from tests.support.peering import PAUSED, RESUMED

pytestmark = pytest.mark.k8s
PEERING = "ragagent"
# A replica killed without a goodbye blocks the others until its record expires; then the
# survivor needs one reconcile. The margin covers a slow, shared test machine.
TAKEOVER_BOUND_SECONDS = PEERING_LIFETIME_SECONDS + 45
Replicas = Callable[..., Operator]


@pytest.fixture
def replicas(
    cluster: controlplane.ControlPlane, installed: Path, operator: Operator
) -> Iterator[Replicas]:
    """Starts extra replicas; afterwards stops them and waits until the session's one is active."""
    started: list[Operator] = []
    suffix = secrets.token_hex(3)

    def start(tag: str, priority: int, **options: Any) -> Operator:
        replica = start_operator(
            cluster, installed, f"{tag}-{suffix}", priority=priority, **options
        )
        started.append(replica)
        return replica

    yield start
    for replica in started:
        if replica.process.poll() is None:
            stop(replica)
    wait_for(
        lambda: is_active(operator),
        "the session's operator to resume",
        operator=operator,
        timeout=4 * PEERING_LIFETIME_SECONDS,
    )


def live_priorities(cluster: controlplane.ControlPlane) -> list[int]:
    """The priorities of the peering records that have not expired, sorted."""
    found = get_json(cluster, "clusterkopfpeering", PEERING)
    return sorted(peering.live_priorities(found, datetime.now(UTC)).values())


def reconciles(replica: Operator) -> float:
    """Every reconcile and status refresh this replica has run."""
    return float(operator_metric(replica, "reconciles_total", ""))


def settled_reconciles(replica: Operator) -> float:
    """The replica's reconcile count once it stops moving. A reconcile already under way when
    a replica yields still finishes (kopf has no per-object lock between replicas; the
    writes are idempotent server-side applies by the same field manager)."""
    previous = reconciles(replica)
    for _ in range(10):
        time.sleep(2 * RESYNC_SECONDS)
        current = reconciles(replica)
        if current == previous:
            return current
        previous = current
    pytest.fail(f"reconciles of a paused replica kept growing\n{peering_lines(replica)}")


def peering_lines(*replicas: Operator) -> str:
    """The peering decisions in the replicas' logs, for failure messages."""
    lines = [
        line
        for op in replicas
        for line in op.log().splitlines()
        if "peer" in line.lower() or PAUSED in line or RESUMED in line
    ]
    return "\n".join(lines[-12:])


@pytest.mark.parametrize("newcomer", ["lower", "higher"])
def test_two_operator_replicas_do_not_conflict(
    cluster: controlplane.ControlPlane,
    namespace: str,
    operator: Operator,
    replicas: Replicas,
    newcomer: str,
) -> None:
    """Whichever replica starts second, exactly one of the two reconciles.

    A replica starts paused (peering is mandatory) and logs nothing when it stays paused, so
    a lower-priority newcomer is silent: the proof is who reconciles, not a log line.
    """
    priority = MAIN_PRIORITY + (100 if newcomer == "higher" else -50)
    second = replicas("second", priority)
    active, standby = (second, operator) if newcomer == "higher" else (operator, second)
    wait_for(
        lambda: live_priorities(cluster) == sorted([MAIN_PRIORITY, priority]),
        "both peering records",
        operator=second,
    )
    wait_for(lambda: is_active(active), "the higher replica active", operator=active)
    wait_for(lambda: not is_active(standby), "the lower replica paused", operator=standby)
    standby_before, active_before = settled_reconciles(standby), reconciles(active)
    ready_agent(cluster, namespace, active, name="twin")
    time.sleep(3 * RESYNC_SECONDS)  # an active replica's timer would resync twin meanwhile
    counts = f"standby {reconciles(standby)} (was {standby_before}), active {reconciles(active)}"
    assert reconciles(standby) == standby_before, counts + "\n" + peering_lines(standby, active)
    assert reconciles(active) > active_before, counts
    assert standby.process.poll() is None
    assert active.process.poll() is None


def test_standby_takes_over_when_the_active_replica_is_killed(
    cluster: controlplane.ControlPlane,
    namespace: str,
    operator: Operator,
    replicas: Replicas,
    record_property: Callable[[str, object], None],
) -> None:
    active = replicas("active", MAIN_PRIORITY + 200)
    standby = replicas("standby", MAIN_PRIORITY + 100)
    wait_for(lambda: is_active(active), "the highest replica active", operator=active)
    wait_for(lambda: not is_active(operator), "the session's operator paused", operator=operator)
    ready_agent(cluster, namespace, active, name="one")
    paused_before = reconciles(operator)
    assert reconciles(standby) == 0
    kill(active)
    killed = time.monotonic()
    patch = '{"spec":{"replicas":3}}'
    cluster.kubectl("patch", "ragagent", "one", "-n", namespace, "--type=merge", "-p", patch)
    db_secret(cluster, namespace, "two-pg", DATABASE_URL)
    assert apply(cluster, namespace, rag("two")).returncode == 0
    wait_for(
        lambda: (deployment(cluster, namespace, "one") or {}).get("spec", {}).get("replicas") == 3,
        "the changed RagAgent reconciled by the survivor",
        operator=standby,
        timeout=TAKEOVER_BOUND_SECONDS,
    )
    wait_for(
        lambda: condition(cluster, namespace, "Reconciled", "two").get("status") == "True",
        "the new RagAgent reconciled by the survivor",
        operator=standby,
        timeout=TAKEOVER_BOUND_SECONDS - (time.monotonic() - killed),
    )
    record_property("takeover_seconds", round(time.monotonic() - killed, 1))
    assert reconciles(standby) > 0
    assert reconciles(operator) == paused_before  # the lowest replica stayed paused throughout


AGENTS = [f"agent-{index}" for index in range(8)]


def children(name: str) -> list[tuple[str, str]]:
    """Every child a default RagAgent (external database, sealed secrets) has when done."""
    return [
        ("serviceaccount", name),
        ("configmap", f"{name}-config"),
        ("sealedsecret", f"{name}-generated"),
        ("secret", f"{name}-generated"),
        ("deployment", name),
        ("service", name),
        ("poddisruptionbudget", name),
        ("networkpolicy", f"{name}-default-deny"),
        ("networkpolicy", f"{name}-agent"),
    ]


def condition_is(
    cluster: controlplane.ControlPlane, namespace: str, name: str, kind: str, status: str
) -> bool:
    return condition(cluster, namespace, kind, name).get("status") == status


def present(cluster: controlplane.ControlPlane, namespace: str) -> set[tuple[str, str]]:
    expected = [child for name in AGENTS for child in children(name)]
    return {child for child in expected if get_json(cluster, *child, "-n", namespace) is not None}


def sealed_values(cluster: controlplane.ControlPlane, namespace: str) -> dict[str, Any]:
    """The ciphertexts of each generated SealedSecret in the namespace, by name."""
    listed = get_json(cluster, "sealedsecrets", "-n", namespace) or {"items": []}
    return {
        item["metadata"]["name"]: item["spec"]["encryptedData"]
        for item in listed["items"]
        if item["metadata"]["name"].endswith("-generated")
    }


SENTINEL = "watch-sentinel"


def kill_at_first_deployment(
    cluster: controlplane.ControlPlane, api: k8s.ApiClient, namespace: str, replica: Operator
) -> threading.Thread:
    """SIGKILLs the replica the moment its first agent Deployment shows. The deployment step
    waits for the secrets step (the pod template hashes the Secrets), so by then generated
    values are sealed for that RagAgent, while other RagAgents' steps are still running.

    A watch rather than polling: the whole reconcile of a few RagAgents takes well under a
    second, and a poll would only see it finished. Returns once the watch is proven open:
    it has seen a sentinel Deployment (no pods, not ours) created after the watch started.
    """
    deployments = k8s.AppsV1Api(api).list_namespaced_deployment
    opened = threading.Event()

    def watch_and_kill() -> None:
        # The kubernetes package has no type hints for its watch helper.
        stream = watch.Watch()  # type: ignore[no-untyped-call]
        for event in stream.stream(  # type: ignore[no-untyped-call]
            deployments, namespace, timeout_seconds=90
        ):
            if event["object"].metadata.name == SENTINEL:
                opened.set()
                continue
            kill(replica)
            stream.stop()  # type: ignore[no-untyped-call]
            return

    watcher = threading.Thread(target=watch_and_kill, daemon=True)
    watcher.start()
    deadline = time.monotonic() + 30
    while not opened.is_set() and time.monotonic() < deadline:
        cluster.kubectl(
            "create", "deployment", SENTINEL, "--image=x", "--replicas=0", "-n", namespace
        )
        opened.wait(timeout=2.0)
        cluster.kubectl("delete", "deployment", SENTINEL, "-n", namespace)
    assert opened.is_set(), "the Deployment watch did not open within 30 s"
    return watcher


def test_operator_killed_mid_reconcile_converges_after_restart(
    cluster: controlplane.ControlPlane,
    namespace: str,
    operator: Operator,
    replicas: Replicas,
    k8s_client: k8s.ApiClient,
    record_property: Callable[[str, object], None],
) -> None:
    # The same POD_ID, as when the kubelet restarts the container in its pod: the new process
    # takes over the old one's peering record instead of waiting for it to expire.
    pod = {"POD_ID": f"restart-{namespace[-6:]}"}
    crashing = replicas("crashing", MAIN_PRIORITY + 100, extra_env=pod)
    wait_for(lambda: is_active(crashing), "the replica active", operator=crashing)
    for name in AGENTS:
        db_secret(cluster, namespace, f"{name}-pg", DATABASE_URL)
    watcher = kill_at_first_deployment(cluster, k8s_client, namespace, crashing)
    documents = [yaml.safe_load(rag(name)) for name in AGENTS]
    assert apply(cluster, namespace, yaml.safe_dump_all(documents)).returncode == 0
    watcher.join(timeout=90)
    assert crashing.process.poll() is not None, "no agent Deployment appeared within 90 s"
    expected = {child for name in AGENTS for child in children(name)}
    partial = present(cluster, namespace)
    # The unsealed Secrets come from the sealed-secrets controller, not from the operator.
    ours = {child for child in expected if child[0] != "secret"}
    assert partial & ours < ours, "the kill came after the operator's last child"
    record_property("children_at_kill", f"{len(partial & ours)} of {len(ours)}")
    sealed_at_kill = sealed_values(cluster, namespace)
    assert sealed_at_kill, "no generated value was sealed before the kill"

    restarted = replicas("restarted", MAIN_PRIORITY + 100, extra_env=pod)
    for name, kind in itertools.product(AGENTS, ("Reconciled", "Ready")):
        met = functools.partial(condition_is, cluster, namespace, name, kind, "True")
        wait_for(met, f"{name} {kind}", operator=restarted, timeout=120)
    assert present(cluster, namespace) == expected
    after = sealed_values(cluster, namespace)
    # Values sealed before the kill are kept: a restart never regenerates a signing key.
    assert {name: after[name] for name in sealed_at_kill} == sealed_at_kill
    time.sleep(2 * RESYNC_SECONDS)  # let rollouts and status settle
    assert_noop_resync(cluster, restarted)


def test_missing_sealed_secrets_controller_is_a_condition_not_a_crash(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator, replicas: Replicas
) -> None:
    """No certificate file and a controller Service that does not exist: the operator must say
    so on the RagAgent, keep reconciling the other children and keep running."""
    absent = {
        "RAGAGENT_OPERATOR_SEALED_SECRETS_CERT_FILE": "",
        "RAGAGENT_OPERATOR_SEALED_SECRETS_SERVICE": "no-such-controller",
    }
    lonely = replicas("no-controller", MAIN_PRIORITY + 100, extra_env=absent)
    wait_for(lambda: is_active(lonely), "the replica active", operator=lonely)
    secrets_ready = agent_with_condition(cluster, namespace, lonely, "SecretsReady", "False")
    assert secrets_ready["reason"] == "SealedSecretsControllerUnavailable"
    assert "sealed-secrets certificate" in secrets_ready["message"]
    assert_workload_children(cluster, namespace)  # the steps that need no Secret still ran
    assert get_json(cluster, "sealedsecret", "docs-generated", "-n", namespace) is None
    time.sleep(3 * RESYNC_SECONDS)  # several resyncs later: still running, still saying why
    assert lonely.process.poll() is None
    assert condition(cluster, namespace, "SecretsReady").get("status") == "False"
