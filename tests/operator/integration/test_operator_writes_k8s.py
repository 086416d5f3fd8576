"""The operator writes only what changed: a spec change rewrites only the children it
affects, and a resync of an unchanged RagAgent writes nothing (by the audit log)."""

from __future__ import annotations

import time

import pytest

from tests.operator.integration import writes
from tests.operator.integration.agents import ready_agent
from tests.operator.integration.harness import RESYNC_SECONDS, Operator, get_json
from tests.support import controlplane

pytestmark = pytest.mark.k8s


def test_a_spec_change_writes_only_the_children_it_affects(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator)
    time.sleep(2 * RESYNC_SECONDS)  # let rollouts and status settle
    assert len(writes.operator_writes(cluster, namespace)) >= 8  # every child, policies included
    peers = [{"namespaceSelector": {"matchLabels": {"team": "web"}}}]
    changed = writes.changed_by_patch(
        cluster, namespace, operator, {"spec": {"networkPolicy": {"ingressFrom": peers}}}
    )
    assert len(changed) == 1, changed
    (policy,) = changed
    assert policy.startswith("NetworkPolicy/")
    live = get_json(cluster, "networkpolicy", policy.split("/")[1], "-n", namespace)
    assert peers[0] in live["spec"]["ingress"][0]["from"]
    # The agent's settings: its ConfigMap, and the Deployment whose pods roll on its hash.
    changed = writes.changed_by_patch(
        cluster, namespace, operator, {"spec": {"rateLimit": {"requestsPerMinute": 30}}}
    )
    assert changed == {"ConfigMap/docs-config", "Deployment/docs"}


def test_noop_resync_makes_zero_writes(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    writes.wait_for_other_namespaces_gone(cluster, operator)
    start = writes.mark(cluster, operator)
    ready_agent(cluster, namespace, operator, backup={"enabled": True})
    time.sleep(2 * RESYNC_SECONDS)  # let rollouts and status settle
    writes.assert_noop_resync(cluster, operator)
    # The audit log sees the operator's writes, so its zero above is no misspelt user name:
    # from creating this agent on, it counts exactly what the operator's own counter does.
    counted, audited = writes.assert_counter_agrees_with_audit(cluster, operator, start)
    assert counted.get("PATCH", 0) > 0, (counted, audited)
