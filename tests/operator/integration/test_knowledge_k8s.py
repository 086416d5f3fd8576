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

from tests.operator.integration.agents import (
    agent_status,
    agent_with_condition,
    condition,
    events_of,
    patch_agent,
)
from tests.operator.integration.harness import (
    RESYNC_SECONDS,
    Operator,
    get_json,
    job_from_cronjob,
    wait_for,
)
from tests.operator.integration.jobs import finish_pod, job_pod
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
    cluster: controlplane.ControlPlane, ns: str, operator: Operator, **knowledge: Any
) -> dict[str, Any]:
    """The pending pod of the RagAgent's ingest Job (its ConfigMap labelled for use)."""
    cluster.kubectl("create", "configmap", "faq", "-n", ns, "--from-literal=a.md=# One")
    cluster.kubectl("label", "configmap", "faq", "-n", ns, "ragagent.dev/use=true")
    agent_with_condition(
        cluster, ns, operator, "KnowledgeSynced", "Unknown",
        knowledge={"sources": SOURCES, **knowledge}, nodeSelector=NO_NODE,
    )  # fmt: skip
    listed = get_json(cluster, "jobs", "-n", ns, "-l", "app.kubernetes.io/component=ingest")
    [job] = (listed or {}).get("items") or []
    return dict(wait_for(lambda: job_pod(cluster, ns, job["metadata"]["name"]), "the ingest pod"))


def synced(cluster: controlplane.ControlPlane, ns: str, status: str) -> dict[str, Any] | None:
    found = condition(cluster, ns, "KnowledgeSynced")
    return found if found.get("status") == status else None


def test_a_failed_source_shows_in_status_and_warns_while_the_others_report_counts(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    pod = ingest_pod(cluster, namespace, operator)
    report = {
        "result": "succeeded",
        "sources": [{**FAQ, "unsupported": ["logo.png"]}, GUIDE_FAILED],
    }
    finish_pod(cluster, namespace, pod, report=report)

    cond = wait_for(lambda: synced(cluster, namespace, "False"), "KnowledgeSynced=False",
                    operator=operator, timeout=90)  # fmt: skip
    assert cond["reason"] == "SourceSyncFailed"
    assert cond["message"] == f"{URL}: FetchFailed: could not fetch: 503 Service Unavailable"
    assert agent_status(cluster, namespace)["knowledge"] == [
        {"source": "configmap/faq", "documents": 2, "chunks": 5,
         "lastSyncTime": "2026-12-04T12:00:00Z",
         "lastError": {"reason": "UnsupportedContent", "message": "1 unsupported: logo.png"}},
        {"source": URL, "documents": 0, "chunks": 0,
         "lastError": {"reason": "FetchFailed",
                       "message": "could not fetch: 503 Service Unavailable"}},
    ]  # fmt: skip
    warnings = wait_for(
        lambda: [e for e in events_of(cluster, namespace) if e[1] == "SourceSyncFailed"],
        "a SourceSyncFailed Event",
        operator=operator,
    )
    assert warnings[0][0] == "Warning"


def test_a_complete_sync_is_true_with_the_totals(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    pod = ingest_pod(cluster, namespace, operator)
    guide = {"source": URL, "documents": 1, "chunks": 2, "synced_at": "2026-12-04T12:00:01Z"}
    finish_pod(cluster, namespace, pod, report={"result": "succeeded", "sources": [FAQ, guide]})

    cond = wait_for(lambda: synced(cluster, namespace, "True"), "KnowledgeSynced=True",
                    operator=operator, timeout=90)  # fmt: skip
    assert (cond["reason"], cond["message"]) == (
        "SyncSucceeded", "3 documents (7 chunks) from 2 sources"
    )  # fmt: skip
    knowledge = agent_status(cluster, namespace)["knowledge"]
    assert [(k["source"], k["documents"], k["lastSyncTime"]) for k in knowledge] == [
        ("configmap/faq", 2, "2026-12-04T12:00:00Z"),
        (URL, 1, "2026-12-04T12:00:01Z"),
    ]


def test_a_refresh_schedule_runs_a_cronjob_whose_newest_run_reports_and_is_kept(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    pod = ingest_pod(cluster, namespace, operator, refreshSchedule="0 0 1 1 *")
    finish_pod(
        cluster, namespace, pod, report={"result": "succeeded", "sources": [FAQ, GUIDE_FAILED]}
    )
    wait_for(lambda: synced(cluster, namespace, "False"), "the first sync's failure",
             operator=operator, timeout=90)  # fmt: skip
    cronjob = get_json(cluster, "cronjob", "docs-ingest-refresh", "-n", namespace)
    assert cronjob is not None
    assert cronjob["spec"]["schedule"] == "0 0 1 1 *"
    run = job_from_cronjob(cronjob, "docs-ingest-refresh-1")
    run["spec"]["suspend"] = False
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(run))
    scheduled = wait_for(lambda: job_pod(cluster, namespace, "docs-ingest-refresh-1"), "its pod")
    guide = {"source": URL, "documents": 1, "chunks": 2, "synced_at": "2026-12-04T13:00:00Z"}
    finish_pod(
        cluster, namespace, scheduled, report={"result": "succeeded", "sources": [FAQ, guide]}
    )

    wait_for(lambda: synced(cluster, namespace, "True"), "the scheduled run's success",
             operator=operator, timeout=90)  # fmt: skip
    assert agent_status(cluster, namespace)["knowledge"][1]["lastSyncTime"] == guide["synced_at"]
    time.sleep(3 * RESYNC_SECONDS)  # full reconciles: the ingest step keeps the CronJob's run
    assert get_json(cluster, "job", "docs-ingest-refresh-1", "-n", namespace) is not None
    patch_agent(cluster, namespace, {"spec": {"knowledge": {"refreshSchedule": None}}})
    wait_for(
        lambda: get_json(cluster, "cronjob", "docs-ingest-refresh", "-n", namespace) is None,
        "the CronJob removed with its schedule",
        operator=operator,
    )
