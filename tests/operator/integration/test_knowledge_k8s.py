"""Knowledge sync status on the real control plane: the ingest Job's report (its pod's
termination message) reaches status.knowledge and KnowledgeSynced, and a failed source
raises a Warning Event.

The RagAgent's pods ask for a node label no node has, so no kwok stage runs the ingest
pod; the test finishes it as a kubelet would, with the report ``ragagent sync`` leaves.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.operator.integration import agents, harness, jobs
from tests.support import controlplane

pytestmark = pytest.mark.k8s
URL = "https://docs.example/guide.md"
SOURCES = [{"configMap": {"name": "faq"}}, {"url": URL}]
NO_NODE = {"ragagent.dev/test-node": "none"}
FAQ = {"source": "configmap/faq", "documents": 2, "chunks": 5, "synced_at": "2026-12-04T12:00:00Z"}
GUIDE_FAILED = {
    "source": URL,
    "error": {"reason": "FetchFailed", "message": "could not fetch: 503 Service Unavailable"},
}


def ingest_pod(
    cluster: controlplane.ControlPlane, ns: str, operator: harness.Operator, **knowledge: Any
) -> dict[str, Any]:
    """The pending pod of the RagAgent's ingest Job (its ConfigMap labelled for use)."""
    cluster.kubectl("create", "configmap", "faq", "-n", ns, "--from-literal=a.md=# One")
    cluster.kubectl("label", "configmap", "faq", "-n", ns, "ragagent.dev/use=true")
    agents.agent_with_condition(
        cluster, ns, operator, "KnowledgeSynced", "Unknown",
        knowledge={"sources": SOURCES, **knowledge}, nodeSelector=NO_NODE,
    )  # fmt: skip
    listed = harness.get_json(cluster, "jobs", "-n", ns, "-l", "app.kubernetes.io/component=ingest")
    [job] = (listed or {}).get("items") or []
    name = job["metadata"]["name"]
    return dict(harness.wait_for(lambda: jobs.job_pod(cluster, ns, name), "the ingest pod"))


def wait_synced(
    cluster: controlplane.ControlPlane, ns: str, operator: harness.Operator, status: str, what: str
) -> dict[str, Any]:
    """KnowledgeSynced once its status is ``status``."""

    def synced() -> dict[str, Any] | None:
        found = agents.condition(cluster, ns, "KnowledgeSynced")
        return found if found.get("status") == status else None

    return dict(harness.wait_for(synced, what, operator=operator, timeout=90))


def test_a_failed_source_shows_in_status_and_warns_while_the_others_report_counts(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator
) -> None:
    pod = ingest_pod(cluster, namespace, operator)
    report = {
        "result": "succeeded",
        "sources": [{**FAQ, "unsupported": ["logo.png"]}, GUIDE_FAILED],
    }
    jobs.finish_pod(cluster, namespace, pod, report=report)

    cond = wait_synced(cluster, namespace, operator, "False", "KnowledgeSynced=False")
    assert cond["reason"] == "SourceSyncFailed"
    assert cond["message"] == f"{URL}: FetchFailed: could not fetch: 503 Service Unavailable"
    assert agents.agent_status(cluster, namespace)["knowledge"] == [
        {"source": "configmap/faq", "documents": 2, "chunks": 5,
         "lastSyncTime": "2026-12-04T12:00:00Z",
         "lastError": {"reason": "UnsupportedContent", "message": "1 unsupported: logo.png"}},
        {"source": URL, "documents": 0, "chunks": 0,
         "lastError": {"reason": "FetchFailed",
                       "message": "could not fetch: 503 Service Unavailable"}},
    ]  # fmt: skip
    warnings = harness.wait_for(
        lambda: [e for e in agents.events_of(cluster, namespace) if e[1] == "SourceSyncFailed"],
        "a SourceSyncFailed Event",
        operator=operator,
    )
    assert warnings[0][0] == "Warning"


def test_a_complete_sync_is_true_with_the_totals(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator
) -> None:
    pod = ingest_pod(cluster, namespace, operator)
    guide = {"source": URL, "documents": 1, "chunks": 2, "synced_at": "2026-12-04T12:00:01Z"}
    jobs.finish_pod(
        cluster, namespace, pod, report={"result": "succeeded", "sources": [FAQ, guide]}
    )

    cond = wait_synced(cluster, namespace, operator, "True", "KnowledgeSynced=True")
    assert (cond["reason"], cond["message"]) == (
        "SyncSucceeded", "3 documents (7 chunks) from 2 sources"
    )  # fmt: skip
    knowledge = agents.agent_status(cluster, namespace)["knowledge"]
    assert [(k["source"], k["documents"], k["lastSyncTime"]) for k in knowledge] == [
        ("configmap/faq", 2, "2026-12-04T12:00:00Z"),
        (URL, 1, "2026-12-04T12:00:01Z"),
    ]


def test_a_refresh_schedule_runs_a_cronjob_whose_newest_run_reports_and_is_kept(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator
) -> None:
    pod = ingest_pod(cluster, namespace, operator, refreshSchedule="0 0 1 1 *")
    jobs.finish_pod(
        cluster, namespace, pod, report={"result": "succeeded", "sources": [FAQ, GUIDE_FAILED]}
    )
    wait_synced(cluster, namespace, operator, "False", "the first sync's failure")
    cronjob = harness.get_json(cluster, "cronjob", "docs-ingest-refresh", "-n", namespace)
    assert cronjob is not None
    assert cronjob["spec"]["schedule"] == "0 0 1 1 *"
    run = harness.job_from_cronjob(cronjob, "docs-ingest-refresh-1")
    run["spec"]["suspend"] = False
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(run))
    scheduled = harness.wait_for(
        lambda: jobs.job_pod(cluster, namespace, "docs-ingest-refresh-1"), "its pod"
    )
    guide = {"source": URL, "documents": 1, "chunks": 2, "synced_at": "2026-12-04T13:00:00Z"}
    jobs.finish_pod(
        cluster, namespace, scheduled, report={"result": "succeeded", "sources": [FAQ, guide]}
    )

    wait_synced(cluster, namespace, operator, "True", "the scheduled run's success")
    assert (
        agents.agent_status(cluster, namespace)["knowledge"][1]["lastSyncTime"]
        == guide["synced_at"]
    )
    time.sleep(
        3 * harness.RESYNC_SECONDS
    )  # full reconciles: the ingest step keeps the CronJob's run
    assert harness.get_json(cluster, "job", "docs-ingest-refresh-1", "-n", namespace) is not None
    agents.patch_agent(cluster, namespace, {"spec": {"knowledge": {"refreshSchedule": None}}})
    harness.wait_for(
        lambda: (
            harness.get_json(cluster, "cronjob", "docs-ingest-refresh", "-n", namespace) is None
        ),
        "the CronJob removed with its schedule",
        operator=operator,
    )
