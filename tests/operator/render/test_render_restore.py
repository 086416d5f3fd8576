"""Pure builders and state of the operator-side restore (spec.restore)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ragagent_operator import backup_status, job_events, steps
from ragagent_operator import constants as c
from ragagent_operator.render import backup, deployment, restore
from ragagent_operator.render.common import Agent, build_agent
from ragagent_operator.spec import Restore

NAME = "20250310T020000.123Z-1a2b3c4d"


def make_agent(**spec: Any) -> Agent:
    spec.setdefault("database", {"external": {"secretRef": {"name": "pg", "key": "url"}}})
    spec.setdefault("backup", {"enabled": True})
    spec.setdefault("restore", {"from": NAME})
    body = {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test")


def request(agent: Agent) -> Restore:
    assert agent.spec.restore is not None
    return agent.spec.restore


def job_of(agent: Agent) -> dict[str, Any]:
    return restore.build_restore_job(agent, request(agent), image="ragagent:1")


def test_restore_job_runs_ragagent_restore_on_the_named_backup() -> None:
    job = job_of(make_agent())
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["ragagent"]
    assert container["args"] == ["restore", f"/backups/{NAME}"]
    forced = job_of(make_agent(restore={"from": NAME, "force": True}))
    assert forced["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "--force"
    assert job["spec"]["backoffLimit"] == 0
    assert job["metadata"]["labels"][c.LABEL_COMPONENT] == c.COMPONENT_RESTORE
    assert job["metadata"]["ownerReferences"][0]["kind"] == "RagAgent"


def test_restore_job_mounts_the_backups_read_only_with_the_backup_credentials() -> None:
    agent = make_agent()
    pod = job_of(agent)["spec"]["template"]["spec"]
    cron_pod = backup.build_backup_cronjob(agent, image="ragagent:1")["spec"]["jobTemplate"]
    cron_container = cron_pod["spec"]["template"]["spec"]["containers"][0]
    container = pod["containers"][0]
    assert container["env"] == cron_container["env"]
    assert container["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "pg", "key": "url"}
    assert {"name": "backups", "mountPath": "/backups", "readOnly": True} in container[
        "volumeMounts"
    ]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    claim = volumes["backups"]["persistentVolumeClaim"]
    assert claim == {"claimName": "docs-backups", "readOnly": True}
    assert volumes["tmp"] == {"name": "tmp", "emptyDir": {}}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["resources"] == backup.BACKUP_RESOURCES
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_restore_job_uses_an_existing_backup_claim() -> None:
    agent = make_agent(backup={"storage": {"existingClaim": "old-backups"}})
    volumes = job_of(agent)["spec"]["template"]["spec"]["volumes"]
    assert volumes[0]["persistentVolumeClaim"]["claimName"] == "old-backups"


def test_backup_cronjob_leaves_its_result_as_the_termination_message() -> None:
    cron = backup.build_backup_cronjob(make_agent(), image="ragagent:1")
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert {"name": "backups", "mountPath": "/backups"} in container["volumeMounts"]


def test_backup_cronjob_is_suspended_only_while_a_restore_runs() -> None:
    agent = make_agent()
    assert backup.build_backup_cronjob(agent, image="ragagent:1")["spec"]["suspend"] is False
    held = backup.build_backup_cronjob(agent, image="ragagent:1", suspend=True)
    assert held["spec"]["suspend"] is True
    assert held["spec"]["schedule"] == agent.spec.backup.schedule


def test_each_distinct_request_gets_its_own_job_name() -> None:
    names = {
        job_of(make_agent(restore=spec))["metadata"]["name"]
        for spec in (
            {"from": NAME},
            {"from": NAME, "force": True},
            {"from": NAME, "requestId": "again"},
            {"from": "20250311T020000.123Z-99999999"},
        )
    }
    assert len(names) == 4
    assert job_of(make_agent())["metadata"]["name"] == job_of(make_agent())["metadata"]["name"]


def test_held_agent_renders_zero_replicas_and_no_autoscaling() -> None:
    agent = make_agent(autoscaling={"enabled": True, "minReplicas": 3})
    held = steps.restore.build_held_agent(agent)
    assert held.spec.autoscaling.enabled is False
    rendered = deployment.build_deployment(held, config_hash="c", secrets_hash="s")
    assert rendered["spec"]["replicas"] == 0
    assert (
        "replicas"
        not in deployment.build_deployment(agent, config_hash="c", secrets_hash="s")["spec"]
    )


def finished(succeeded: bool, report: dict[str, Any] | None = None) -> backup_status.FinishedJob:
    when = datetime(2025, 3, 10, 2, 5, tzinfo=UTC)
    return backup_status.FinishedJob("docs-restore-x", when, succeeded, report or {})


def test_last_restore_and_condition_follow_the_job() -> None:
    req = request(make_agent())
    running = steps.restore.build_last_restore(req, "h", "docs-restore-h", None)
    assert running == {
        "from": NAME,
        "requestHash": "h",
        "job": "docs-restore-h",
        "result": "Running",
    }
    cond = steps.restore.build_restored_condition(running, "")
    assert (cond["status"], cond["reason"]) == ("False", "Restoring")
    done = steps.restore.build_last_restore(req, "h", "docs-restore-h", finished(True))
    assert (done["result"], done["time"]) == ("Succeeded", "2025-03-10T02:05:00Z")
    cond = steps.restore.build_restored_condition(done, "")
    assert (cond["status"], cond["reason"]) == ("True", "RestoreSucceeded")
    failed = steps.restore.build_last_restore(req, "h", "docs-restore-h", finished(False))
    cond = steps.restore.build_restored_condition(failed, "database x is not empty")
    assert (cond["status"], cond["reason"]) == ("False", "RestoreFailed")
    assert "database x is not empty" in cond["message"]
    assert "stays scaled to 0" in cond["message"]


def pod(created: str, message: str | None) -> dict[str, Any]:
    terminated = {"exitCode": 0, **({"message": message} if message else {})}
    return {
        "metadata": {"creationTimestamp": created},
        "status": {"containerStatuses": [{"name": "backup", "state": {"terminated": terminated}}]},
    }


def test_termination_message_comes_from_the_newest_pod() -> None:
    pods = [pod("2025-03-10T02:01:00Z", '{"result":"failed"}'), pod("2025-03-10T02:03:00Z", "B")]
    assert backup_status.build_termination_message(pods) == "B"
    assert backup_status.build_termination_message([pod("2025-03-10T02:01:00Z", None)]) is None
    assert backup_status.build_termination_message([{"metadata": {}, "status": {}}]) is None


def job(
    component: str, *, status: dict[str, Any], annotations: dict[str, str] | None = None
) -> Any:
    return {
        "kind": "Job",
        "metadata": {
            "name": "docs-x",
            "labels": {c.LABEL_COMPONENT: component},
            "annotations": annotations or {},
        },
        "status": status,
    }


DONE = {"succeeded": 1, "completionTime": "2025-03-10T02:05:00Z"}


def test_only_finished_step_jobs_trigger_a_full_reconcile() -> None:
    assert job_events.is_step_job_finished(job(c.COMPONENT_RESTORE, status=DONE))
    assert job_events.is_step_job_finished(job(c.COMPONENT_REINDEX, status=DONE))
    pre = {c.Annotation.INDEX_HASH: "abc"}
    assert job_events.is_step_job_finished(job(c.COMPONENT_BACKUP, status=DONE, annotations=pre))
    assert not job_events.is_step_job_finished(job(c.COMPONENT_BACKUP, status=DONE))
    assert not job_events.is_step_job_finished(job(c.COMPONENT_RESTORE, status={"active": 1}))
    assert not job_events.is_step_job_finished({"kind": "Deployment", "metadata": {}})
