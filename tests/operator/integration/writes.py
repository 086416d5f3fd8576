"""What the operator writes, from two records: the API server's audit log (which names each
write's user) and the operator's own request counter.

The audit log is the judge: it sees every write of the operator's ServiceAccount, so a
zero there is no misspelt user name once the two records agree on the writes they share.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from tests.operator.integration.agents import operator_metric, patch_agent
from tests.operator.integration.harness import (
    OPERATOR_RESOURCES,
    OPERATOR_USER,
    RESYNC_SECONDS,
    Operator,
    get_json,
    wait_for,
)
from tests.support import audit, controlplane

# Requests of the operator's user that kopf sends itself, past the operator's request counter:
# its peering keep-alives.
KOPF_RESOURCES = {"clusterkopfpeerings", "kopfpeerings"}
WRITE_HTTP_METHODS = set(audit.WRITE_METHODS.values())
CHILD_KINDS = "serviceaccount,configmap,sealedsecret,deployment,service,pdb,networkpolicy"


@dataclasses.dataclass(frozen=True)
class Mark:
    """One moment in both records of the operator's requests: the API server's audit log and
    the operator's own counter."""

    audit_offset: int
    requests: dict[str, float]


def mark(cluster: controlplane.ControlPlane, operator: Operator) -> Mark:
    requests = operator_metric(operator, "api_requests_total", "")
    return Mark(audit.offset(cluster.audit_log_path), requests)


def requests_since(operator: Operator, start: Mark) -> dict[str, int]:
    """The operator's own count of its requests since ``start``, by HTTP method."""
    now = operator_metric(operator, "api_requests_total", "")
    delta = {verb: int(now[verb] - start.requests.get(verb, 0.0)) for verb in now}
    return {verb: count for verb, count in delta.items() if count}


def audited_writes(cluster: controlplane.ControlPlane, start: Mark) -> list[audit.Write]:
    """The writes the audit log names the operator's user for since ``start``."""
    writes = audit.read_writes(cluster.audit_log_path, start.audit_offset)
    return audit.by_user(writes, OPERATOR_USER)


def assert_noop_resync(cluster: controlplane.ControlPlane, operator: Operator) -> None:
    """Over four resync periods, ``operator``'s timers run and the operator writes to no object
    of our kinds: not an apply, not a create, not a delete. The audit log says which writes
    are the operator's user's, so no other client's (the sealed-secrets controller unsealing,
    the controller manager's token Secrets) is blamed on it."""
    # Earlier tests' agents must be gone: re-applying a child their namespace's cleanup just
    # deleted is the operator's write, but no resync of a settled agent.
    wait_for_other_namespaces_gone(cluster, operator)
    start = mark(cluster, operator)
    resyncs = operator_metric(operator, "reconciles_total", 'trigger="timer"')
    time.sleep(4 * RESYNC_SECONDS)
    assert operator_metric(operator, "reconciles_total", 'trigger="timer"') > resyncs
    writes = audited_writes(cluster, start)
    assert audit.object_writes(writes, user=OPERATOR_USER, resources=OPERATOR_RESOURCES) == []
    # Its own counter: it did read, and deleted nothing anywhere.
    requests = requests_since(operator, start)
    assert requests.get("GET", 0) > 0
    assert requests.get("DELETE", 0) == 0


def assert_counter_agrees_with_audit(
    cluster: controlplane.ControlPlane, operator: Operator, start: Mark
) -> tuple[dict[str, int], dict[str, int]]:
    """The operator's counter and the audit log agree on its writes since ``start`` (kopf's
    peering keep-alives aside: kopf sends them past that counter); returns both, by method.

    The audit line is written before the client has its response, so the counter can lag by
    a request in flight: polled for a few seconds before it is a disagreement."""

    def both() -> tuple[dict[str, int], dict[str, int]]:
        requests = requests_since(operator, start)
        counted = {verb: n for verb, n in requests.items() if verb in WRITE_HTTP_METHODS}
        writes = audited_writes(cluster, start)
        return counted, audit.by_method(w for w in writes if w.resource not in KOPF_RESOURCES)

    deadline = time.monotonic() + 10
    while (found := both())[0] != found[1] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert found[0] == found[1], "the operator's counter (left) against the audit log (right)"
    return found


def wait_for_other_namespaces_gone(cluster: controlplane.ControlPlane, operator: Operator) -> None:
    wait_for(
        lambda: not terminating_namespaces(cluster),
        "other namespaces to finish terminating",
        operator=operator,
        timeout=180,
    )


def terminating_namespaces(cluster: controlplane.ControlPlane) -> list[str]:
    listed = get_json(cluster, "namespaces") or {"items": []}
    return [
        ns["metadata"]["name"]
        for ns in listed["items"]
        if ns.get("status", {}).get("phase") == "Terminating"
    ]


def operator_writes(cluster: controlplane.ControlPlane, ns: str) -> dict[str, str]:
    """ "Kind/name" -> when the operator's apply last changed that child (its managedFields
    entry), for every child of "docs". Controllers' status writes do not move this time."""
    selector = "app.kubernetes.io/instance=docs"
    listed = get_json(cluster, CHILD_KINDS, "-n", ns, "-l", selector, "--show-managed-fields")
    listed = listed or {"items": []}
    return {
        f"{item['kind']}/{item['metadata']['name']}": entry["time"]
        for item in listed["items"]
        for entry in item["metadata"].get("managedFields") or []
        if entry["manager"] == "ragagent-operator" and entry["operation"] == "Apply"
    }


def changed_by_patch(
    cluster: controlplane.ControlPlane, ns: str, operator: Operator, patch: dict[str, Any]
) -> set[str]:
    """The children the operator writes after ``patch`` of the RagAgent, once it settled."""
    before = operator_writes(cluster, ns)
    time.sleep(1.1)  # managedFields times have a one-second resolution
    patch_agent(cluster, ns, patch)
    wait_for(
        lambda: observed_generation(cluster, ns) == generation(cluster, ns),
        "the change reconciled",
        operator=operator,
    )
    time.sleep(2 * RESYNC_SECONDS)  # resyncs too: a write they make would show here
    after = operator_writes(cluster, ns)
    assert after.keys() == before.keys()
    return {key for key in after if after[key] != before[key]}


def generation(cluster: controlplane.ControlPlane, ns: str) -> int:
    return int(get_json(cluster, "ragagent", "docs", "-n", ns)["metadata"]["generation"])


def observed_generation(cluster: controlplane.ControlPlane, ns: str) -> int | None:
    status = get_json(cluster, "ragagent", "docs", "-n", ns).get("status") or {}
    return status.get("observedGeneration")
