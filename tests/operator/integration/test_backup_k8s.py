"""Backup status on the real control plane: a backup Job's outcome reaches the RagAgent."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ragagent_operator import backup_status
from tests.operator.integration import agents, harness, jobs
from tests.support import controlplane

pytestmark = pytest.mark.k8s
NOW = datetime.now(UTC)
STARTED = backup_status.format_time(NOW - timedelta(minutes=5))
FINISHED = backup_status.format_time(NOW - timedelta(minutes=1))
# Another embedding model. Through an OpenAI-compatible endpoint: the local provider runs only
# MiniLM, and the CRD refuses any other model for it.
OTHER_EMBEDDING_MODEL = {
    "embeddingProvider": "openai",
    "embeddingModel": "text-embedding-3-small",
    "embeddingDimension": 512,
    "baseURL": "https://llm.example/v1",
}


def scheduled_job(cronjob: dict[str, Any], name: str, report: dict[str, Any]) -> dict[str, Any]:
    """A scheduled backup Job that carries its schedule time and result annotations."""
    job = harness.job_from_cronjob(cronjob, name)
    job["metadata"]["annotations"] = {
        "batch.kubernetes.io/cronjob-scheduled-timestamp": STARTED,
        backup_status.RESULT_ANNOTATION: json.dumps(report),
    }
    return job


def finished_status(
    succeeded: bool, *, started: str | None = STARTED, finished: str = FINISHED
) -> dict[str, Any]:
    """A terminal Job status that passes the API server's status validation.

    ``started`` None keeps the startTime the Job controller set on a running Job
    (immutable once set), whose pending pod no longer counts as active.
    """
    kinds = ("SuccessCriteriaMet", "Complete") if succeeded else ("FailureTarget", "Failed")
    conditions = [
        {"type": kind, "status": "True", "reason": "Test", "lastTransitionTime": finished}
        for kind in kinds
    ]
    status: dict[str, Any] = {"conditions": conditions, "active": 0}
    if started is not None:
        status["startTime"] = started
    if succeeded:
        status.update(succeeded=1, completionTime=finished)
    else:
        status.update(failed=1)
    return status


def set_job_status(cluster: controlplane.ControlPlane, ns: str, name: str, status: Any) -> None:
    cluster.kubectl(
        "patch", "job", name, "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip


def backup_state(cluster: controlplane.ControlPlane, ns: str) -> tuple[Any, Any]:
    last = agents.agent_status(cluster, ns).get("lastBackup")
    return last, agents.condition(cluster, ns, "BackupReady")


def change_index_settings(
    cluster: controlplane.ControlPlane, ns: str, operator: harness.Operator, patch: dict[str, Any]
) -> list[str]:
    """Patch settings that need a re-index; returns the pre-reindex backup Jobs this starts."""
    agents.patch_agent(cluster, ns, patch)
    return list(
        harness.wait_for(
            lambda: jobs_named(cluster, ns, "docs-backup-pre-"),
            "the pre-reindex backup Job",
            operator=operator,
        )
    )


def wait_reindexed(
    cluster: controlplane.ControlPlane,
    ns: str,
    operator: harness.Operator,
    *,
    what: str,
    **wanted: str,
) -> dict[str, Any]:
    """The Reindexed condition once its fields have the wanted values."""
    return agents.wait_condition(cluster, ns, operator, "Reindexed", what=what, **wanted)


@pytest.mark.parametrize("succeeded", [True, False], ids=["succeeded", "failed"])
def test_backup_job_outcome_reaches_last_backup_and_condition(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator, succeeded: bool
) -> None:
    agents.ready_agent(
        cluster, namespace, operator, backup={"enabled": True, "schedule": "0 3 * * *"}
    )
    assert harness.get_json(cluster, "pvc", "docs-backups", "-n", namespace) is not None
    cronjob = harness.get_json(cluster, "cronjob", "docs-backup", "-n", namespace)
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"][0] == {
        "name": "backups",
        "persistentVolumeClaim": {"claimName": "docs-backups"},
    }
    report = {"result": "succeeded", "size": 123456} if succeeded else {"reason": "pg_dump: gone"}
    job = scheduled_job(cronjob, "docs-backup-29000000", report)
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(job))
    assert backup_state(cluster, namespace)[0] is None  # unfinished Jobs are not a backup
    set_job_status(cluster, namespace, job["metadata"]["name"], finished_status(succeeded))
    expected = "Succeeded" if succeeded else "Failed"
    last, cond = harness.wait_for(
        lambda: (state := backup_state(cluster, namespace))[0] and state,
        "status.lastBackup",
        operator=operator,
    )
    assert last["result"] == expected
    assert last["time"] == FINISHED
    assert last.get("size") == (123456 if succeeded else None)
    if succeeded:
        assert (cond["status"], cond["reason"]) == ("True", "BackupSucceeded")
        assert cond["message"] == f"last backup at {FINISHED}"
    else:
        assert (cond["status"], cond["reason"]) == ("False", "BackupFailed")
        assert cond["message"] == f"last backup at {FINISHED}: pg_dump: gone"


@pytest.mark.parametrize("succeeded", [True, False], ids=["succeeded", "failed"])
def test_backup_size_and_reason_come_from_the_pod_termination_message(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator, succeeded: bool
) -> None:
    """The real Job controller runs the Job; its pod's status says what a kubelet would."""
    agents.ready_agent(cluster, namespace, operator, backup={"enabled": True})
    cronjob = harness.get_json(cluster, "cronjob", "docs-backup", "-n", namespace)
    job = scheduled_job(cronjob, "docs-backup-29000001", {})
    del job["metadata"]["annotations"][backup_status.RESULT_ANNOTATION]
    job["spec"]["suspend"] = False
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(job))
    name = "docs-backup-29000001"
    pod = harness.wait_for(lambda: jobs.job_pod(cluster, namespace, name), "the Job's pod")
    if succeeded:
        jobs.finish_pod(cluster, namespace, pod, report={"result": "succeeded", "size": 987654})
    else:  # backoffLimit 1: the Job controller retries once, and the newest pod tells why
        jobs.finish_pod(cluster, namespace, pod, report={"result": "failed", "reason": "first try"})
        retry = harness.wait_for(
            lambda: (
                (newer := jobs.job_pod(cluster, namespace, name, phase="Pending"))
                and newer["metadata"]["name"] != pod["metadata"]["name"]
                and newer
            ),
            "the Job controller's retry pod",
            timeout=90,
        )
        report = {"result": "failed", "reason": "database error: connection refused"}
        jobs.finish_pod(cluster, namespace, retry, report=report)
    last, cond = harness.wait_for(
        lambda: (state := backup_state(cluster, namespace))[0] and state,
        "status.lastBackup from the finished Job",
        operator=operator,
    )
    if succeeded:
        assert (last["result"], last["size"]) == ("Succeeded", 987654)
        assert cond["reason"] == "BackupSucceeded"
    else:
        assert last["result"] == "Failed"
        assert "size" not in last
        assert cond["message"].endswith("database error: connection refused")


def jobs_named(cluster: controlplane.ControlPlane, ns: str, prefix: str) -> list[str]:
    listed = harness.get_json(cluster, "jobs", "-n", ns) or {"items": []}
    names = (job["metadata"]["name"] for job in listed["items"])
    return sorted(name for name in names if name.startswith(prefix))


def reconciled(cluster: controlplane.ControlPlane, ns: str) -> dict[str, Any]:
    return agents.condition(cluster, ns, "Reconciled")


@pytest.mark.parametrize("succeeded", [True, False], ids=["backup-succeeds", "backup-fails"])
def test_embedding_model_change_backs_up_before_the_reindex(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator, succeeded: bool
) -> None:
    agents.ready_agent(cluster, namespace, operator, backup={"enabled": True})
    first = harness.wait_for(
        lambda: agents.agent_status(cluster, namespace).get("indexSettingsHash"),
        "the first index settings recorded",
        operator=operator,
    )
    assert jobs_named(cluster, namespace, "docs-") == []  # a new agent needs no re-index
    patch = {"spec": {"model": OTHER_EMBEDDING_MODEL}}
    backups = change_index_settings(cluster, namespace, operator, patch)
    waiting = harness.wait_for(
        lambda: (
            (cond := reconciled(cluster, namespace)).get("reason") == "WaitingForBackup" and cond
        ),
        "Reconciled saying the re-index waits",
        operator=operator,
    )
    assert backups[0] in waiting["message"]
    time.sleep(2 * harness.RESYNC_SECONDS)  # several resyncs: still no re-index without a backup
    assert jobs_named(cluster, namespace, "docs-reindex-") == []
    job_reconciles = agents.operator_metric(operator, "reconciles_total", 'trigger="job"')
    now = backup_status.format_time(datetime.now(UTC))
    set_job_status(
        cluster, namespace, backups[0], finished_status(succeeded, started=None, finished=now)
    )
    if succeeded:
        assert_reindexed_after_the_backup(cluster, namespace, operator, backups[0], job_reconciles)
        status = harness.get_json(cluster, "ragagent", "docs", "-n", namespace)["status"]
        assert status["indexSettingsHash"] != first
        assert status["index"]["served"]["hash"] == first
    else:
        assert_no_reindex_after_a_failed_backup(cluster, namespace, operator, first)


def assert_reindexed_after_the_backup(
    cluster: controlplane.ControlPlane,
    namespace: str,
    operator: harness.Operator,
    backup: str,
    job_reconciles: float,
) -> None:
    """The pre-reindex ``backup`` succeeded: the re-index Job starts, at once, and succeeds."""
    reindexes = harness.wait_for(
        lambda: jobs_named(cluster, namespace, "docs-reindex-"),
        "the re-index Job after the backup succeeded",
        operator=operator,
    )
    assert reindexes[0].removeprefix("docs-reindex-") == backup.split("-")[-1]
    # The finished backup Job triggers a full reconcile of its own (with the tests' short
    # resync interval a resync may get to the re-index first; in production it is minutes).
    harness.wait_for(
        lambda: (
            agents.operator_metric(operator, "reconciles_total", 'trigger="job"') > job_reconciles
        ),
        "a reconcile triggered by the finished backup Job",
        operator=operator,
    )
    assert f"a step Job finished: reconciling {namespace}/docs now" in operator.log()
    # KWOK runs the re-index pod (it mounts no claim) to success, but it leaves no report
    # line, so the gate's verdict is unknown: the served settings stay (test_index_rollout_k8s
    # finishes the pod with a report).
    done = wait_reindexed(
        cluster,
        namespace,
        operator,
        reason="ReindexFailed",
        what="Reindexed once the re-index Job finished",
    )
    assert done["status"] == "False"
    assert f"re-index Job {reindexes[0]} failed" in done["message"]
    assert "it left no report" in done["message"]
    harness.wait_for(
        lambda: reconciled(cluster, namespace).get("status") == "True",
        "Reconciled True again",
        operator=operator,
    )


def assert_no_reindex_after_a_failed_backup(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator, first: str
) -> None:
    """The pre-reindex backup failed: no re-index; reverting the change needs none either."""
    failed = harness.wait_for(
        lambda: (
            (cond := reconciled(cluster, namespace)).get("reason") == "PreReindexBackupFailed"
            and cond
        ),
        "Reconciled saying the backup failed",
        operator=operator,
    )
    assert "re-index not started" in failed["message"]
    reindexed = agents.condition(cluster, namespace, "Reindexed")
    assert (reindexed["status"], reindexed["reason"]) == ("False", "PreReindexBackupFailed")
    time.sleep(2 * harness.RESYNC_SECONDS)
    assert jobs_named(cluster, namespace, "docs-reindex-") == []
    status = harness.get_json(cluster, "ragagent", "docs", "-n", namespace)["status"]
    assert status["indexSettingsHash"] == first
    # Giving the change up (back to the default model) needs no re-index at all.
    agents.patch_agent(
        cluster, namespace, {"spec": {"model": dict.fromkeys(OTHER_EMBEDDING_MODEL)}}
    )
    reverted = wait_reindexed(
        cluster, namespace, operator, reason="SettingsReverted", what="Reindexed after the revert"
    )
    assert reverted["status"] == "True"
    harness.wait_for(
        lambda: reconciled(cluster, namespace).get("status") == "True",
        "Reconciled True after the revert",
        operator=operator,
    )
    assert jobs_named(cluster, namespace, "docs-reindex-") == []


def finish_job(cluster: controlplane.ControlPlane, ns: str, name: str, succeeded: bool) -> None:
    """Finish a Job whose pods cannot start; keeps the startTime the Job controller set."""
    live = harness.get_json(cluster, "job", name, "-n", ns) or {}
    started = None if (live.get("status") or {}).get("startTime") else STARTED
    now = backup_status.format_time(datetime.now(UTC))
    set_job_status(cluster, ns, name, finished_status(succeeded, started=started, finished=now))


def test_a_failed_reindex_shows_in_the_condition_and_runs_again_once_its_job_is_deleted(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator
) -> None:
    agents.ready_agent(cluster, namespace, operator, backup={"enabled": True})
    harness.wait_for(
        lambda: agents.agent_status(cluster, namespace).get("indexSettingsHash"),
        "the first index settings recorded",
        operator=operator,
    )
    # No new pods in this namespace: KWOK would otherwise run the re-index pod to success.
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "no-pods"}}
    quota["spec"] = {"hard": {"pods": "0"}}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(quota))
    patch = {"spec": {"knowledge": {"chunking": {"size": 400, "overlap": 40}}}}
    backups = change_index_settings(cluster, namespace, operator, patch)
    finish_job(cluster, namespace, backups[0], succeeded=True)
    reindexes = harness.wait_for(
        lambda: jobs_named(cluster, namespace, "docs-reindex-"),
        "the re-index Job",
        operator=operator,
    )
    running = wait_reindexed(
        cluster, namespace, operator, reason="Reindexing", what="Reindexed saying the re-index runs"
    )
    assert running["status"] == "False"
    finish_job(cluster, namespace, reindexes[0], succeeded=False)
    failed = wait_reindexed(
        cluster,
        namespace,
        operator,
        reason="ReindexFailed",
        what="Reindexed saying the re-index failed",
    )
    assert failed["status"] == "False"
    assert f"kubectl logs job/{reindexes[0]}" in failed["message"]
    time.sleep(2 * harness.RESYNC_SECONDS)  # no second re-index Job by itself
    assert agents.condition(cluster, namespace, "Reindexed")["reason"] == "ReindexFailed"
    assert jobs_named(cluster, namespace, "docs-reindex-") == reindexes
    # Deleting the failed Job asks for another attempt: the same Job is made again.
    first_uid = harness.get_json(cluster, "job", reindexes[0], "-n", namespace)["metadata"]["uid"]
    cluster.kubectl("delete", "job", reindexes[0], "-n", namespace, "--wait=true")

    def recreated() -> bool:
        job = harness.get_json(cluster, "job", reindexes[0], "-n", namespace)
        return job is not None and job["metadata"]["uid"] != first_uid

    harness.wait_for(recreated, "the re-index Job made again", operator=operator)
    again = wait_reindexed(
        cluster, namespace, operator, reason="Reindexing", what="Reindexed saying it runs again"
    )
    assert "started again" in again["message"] or "builds and evaluates" in again["message"]
    # A success without the pod's report: the gate's verdict is unknown, so nothing switches.
    finish_job(cluster, namespace, reindexes[0], succeeded=True)
    silent = wait_reindexed(
        cluster, namespace, operator, reason="ReindexFailed", what="Reindexed after the retry"
    )
    assert "it left no report" in silent["message"], silent
    assert jobs_named(cluster, namespace, "docs-reindex-") == reindexes
