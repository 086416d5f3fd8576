"""Operator-side restore and Job reports on the real control plane.

The restore Job's pod never runs here (see ``jobs``): the tests finish it by hand.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from ragagent import cli_backup
from ragagent.core import config
from tests.contract import pod_env
from tests.operator.integration.agents import (
    DATABASE_URL,
    agent_status,
    apply,
    condition,
    db_secret,
    patch_agent,
    rag,
    ready_agent,
)
from tests.operator.integration.harness import RESYNC_SECONDS, Operator, get_json, wait_for
from tests.operator.integration.jobs import finish_pod, job_pod
from tests.support import controlplane

pytestmark = pytest.mark.k8s
BACKUP = "20250310T020000.123Z-1a2b3c4d"


def restore_jobs(cluster: controlplane.ControlPlane, ns: str) -> list[dict[str, Any]]:
    selector = "app.kubernetes.io/component=restore,app.kubernetes.io/instance=docs"
    listed = get_json(cluster, "jobs", "-n", ns, "-l", selector) or {"items": []}
    return list(listed["items"])


def replicas(cluster: controlplane.ControlPlane, ns: str) -> int | None:
    live = get_json(cluster, "deployment", "docs", "-n", ns)
    return None if live is None else int(live["spec"].get("replicas", 1))


def test_restore_needs_backup_storage_and_a_plain_backup_name(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    db_secret(cluster, namespace, "docs-pg", DATABASE_URL)
    refused = apply(cluster, namespace, rag("docs", restore={"from": BACKUP}))
    assert refused.returncode != 0
    assert "restore needs backup storage" in refused.stderr
    path = apply(
        cluster, namespace, rag("docs", backup={"enabled": True}, restore={"from": "../etc"})
    )
    assert path.returncode != 0
    assert "restore.from must be the name of a backup directory" in path.stderr
    claim = {"storage": {"existingClaim": "old-backups"}}
    accepted = apply(cluster, namespace, rag("docs", backup=claim, restore={"from": BACKUP}))
    assert accepted.returncode == 0, accepted.stderr


def start_restore(
    cluster: controlplane.ControlPlane, ns: str, operator: Operator, **restore: Any
) -> dict[str, Any]:
    patch_agent(cluster, ns, {"spec": {"restore": {"from": BACKUP, **restore}}})
    jobs = wait_for(lambda: restore_jobs(cluster, ns), "the restore Job", operator=operator)
    return dict(jobs[0])


def backups_suspended(cluster: controlplane.ControlPlane, ns: str) -> bool:
    return bool(get_json(cluster, "cronjob", "docs-backup", "-n", ns)["spec"].get("suspend"))


def live_world(cluster: controlplane.ControlPlane, ns: str) -> pod_env.World:
    """The namespace's Secrets and ConfigMaps as they are now, with plain values."""
    world = pod_env.World()
    for item in get_json(cluster, "secrets", "-n", ns)["items"]:
        data = item.get("data") or {}
        plain = {key: base64.b64decode(value).decode() for key, value in data.items()}
        world.secrets[item["metadata"]["name"]] = plain
    for item in get_json(cluster, "configmaps", "-n", ns)["items"]:
        world.config_maps[item["metadata"]["name"]] = item.get("data") or {}
    return world


def assert_restore_job_starts(
    cluster: controlplane.ControlPlane, ns: str, job: dict[str, Any], mp: pytest.MonkeyPatch
) -> None:
    """The live Job's environment is all ``ragagent restore`` needs in production: the agent
    loads it as that command does and restores into the database the Secret names."""
    container = job["spec"]["template"]["spec"]["containers"][0]
    secret_refs = [item["valueFrom"]["secretKeyRef"] for item in container["env"]]
    assert secret_refs == [{"name": "docs-pg", "key": "url"}]  # no signing secret
    command, world = pod_env.parse_command(container), live_world(cluster, ns)
    with pod_env.process_env(mp, pod_env.container_env(container, world)):
        settings = config.load_settings(config.settings_class(command.name))
    assert settings.is_production
    url = cli_backup.resolve_url(settings, command.params["database_url"])
    assert url == world.secret_value("docs-pg", "url")


def assert_restore_job_shape(job: dict[str, Any], *, force: bool) -> None:
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    expected = ["restore", f"/backups/{BACKUP}"] + (["--force"] if force else [])
    assert (container["command"], container["args"]) == (["ragagent"], expected)
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    assert mounts["backups"] == {"name": "backups", "mountPath": "/backups", "readOnly": True}
    assert mounts["tmp"]["mountPath"] == "/tmp"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["backups"]["persistentVolumeClaim"] == {
        "claimName": "docs-backups",
        "readOnly": True,
    }
    assert "emptyDir" in volumes["tmp"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["limits"]["memory"]
    assert job["spec"]["backoffLimit"] == 0


@pytest.mark.parametrize(
    ("succeeded", "autoscaling"),
    [(True, False), (False, False), (True, True)],
    ids=["succeeded", "failed", "succeeded-under-hpa"],
)
def test_restore_holds_the_agent_at_zero_runs_once_and_reports(
    cluster: controlplane.ControlPlane,
    namespace: str,
    operator: Operator,
    succeeded: bool,
    autoscaling: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scaling = {"enabled": autoscaling, "minReplicas": 3, "maxReplicas": 5}
    ready_agent(cluster, namespace, operator, backup={"enabled": True}, autoscaling=scaling)
    job = start_restore(cluster, namespace, operator, force=True)
    assert_restore_job_shape(job, force=True)
    assert_restore_job_starts(cluster, namespace, job, monkeypatch)
    assert_agent_held_while_restoring(cluster, namespace, operator, job)
    final = finish_restore(cluster, namespace, operator, job, succeeded=succeeded)
    last = agent_status(cluster, namespace)["lastRestore"]
    if succeeded:
        assert_agent_back_after_success(
            cluster, namespace, operator, final, last, autoscaling=autoscaling
        )
    else:
        assert_agent_held_after_failure(cluster, namespace, final, last)
    time.sleep(2 * RESYNC_SECONDS)
    assert [j["metadata"]["name"] for j in restore_jobs(cluster, namespace)] == [
        job["metadata"]["name"]
    ]
    assert condition(cluster, namespace, "Restored")["reason"] == final["reason"]


def assert_agent_held_while_restoring(
    cluster: controlplane.ControlPlane, ns: str, operator: Operator, job: dict[str, Any]
) -> None:
    """While the Job runs: the agent at 0 without its HPA, backups suspended, one Job."""
    wait_for(lambda: replicas(cluster, ns) == 0, "the agent held at 0", operator=operator)
    restoring = condition(cluster, ns, "Restored")
    assert (restoring["status"], restoring["reason"]) == ("False", "Restoring")
    last = agent_status(cluster, ns)["lastRestore"]
    assert last["from"] == BACKUP
    assert last["result"] == "Running"
    assert last["job"] == job["metadata"]["name"]
    assert get_json(cluster, "hpa", "docs", "-n", ns) is None
    assert backups_suspended(cluster, ns)  # no dump of a half-restored database
    time.sleep(2 * RESYNC_SECONDS)  # resyncs keep holding and start no second Job
    assert replicas(cluster, ns) == 0
    assert len(restore_jobs(cluster, ns)) == 1


def finish_restore(
    cluster: controlplane.ControlPlane,
    ns: str,
    operator: Operator,
    job: dict[str, Any],
    *,
    succeeded: bool,
) -> dict[str, Any]:
    """Finish the Job's pod with a report; returns Restored once it is final."""
    pod = wait_for(lambda: job_pod(cluster, ns, job["metadata"]["name"]), "the Job's pod")
    report = (
        {"result": "succeeded"}
        if succeeded
        else {"result": "failed", "reason": "dump.pgc fails its sha256 checksum"}
    )
    finish_pod(cluster, ns, pod, report=report)
    return dict(
        wait_for(
            lambda: (
                (cond := condition(cluster, ns, "Restored")).get("reason")
                in ("RestoreSucceeded", "RestoreFailed")
                and cond
            ),
            "Restored to reach its final state",
            operator=operator,
        )
    )


def assert_agent_back_after_success(
    cluster: controlplane.ControlPlane,
    ns: str,
    operator: Operator,
    final: dict[str, Any],
    last: dict[str, Any],
    *,
    autoscaling: bool,
) -> None:
    assert (final["status"], last["result"]) == ("True", "Succeeded")
    assert last["time"]
    back = 3 if autoscaling else 2
    wait_for(lambda: replicas(cluster, ns) == back, "the agent back", operator=operator)
    wait_for(
        lambda: not backups_suspended(cluster, ns),
        "scheduled backups resumed",
        operator=operator,
    )
    if autoscaling:
        wait_for(
            lambda: get_json(cluster, "hpa", "docs", "-n", ns),
            "the HPA re-created",
            operator=operator,
        )


def assert_agent_held_after_failure(
    cluster: controlplane.ControlPlane, ns: str, final: dict[str, Any], last: dict[str, Any]
) -> None:
    assert (final["status"], last["result"]) == ("False", "Failed")
    assert "dump.pgc fails its sha256 checksum" in final["message"]
    time.sleep(2 * RESYNC_SECONDS)  # a failed restore does not bring writers back
    assert replicas(cluster, ns) == 0
    assert backups_suspended(cluster, ns)  # the last good backups stay


def test_a_new_request_id_runs_the_same_restore_again(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator, backup={"enabled": True})
    first = start_restore(cluster, namespace, operator)
    pod = wait_for(lambda: job_pod(cluster, namespace, first["metadata"]["name"]), "first pod")
    finish_pod(cluster, namespace, pod, report={"result": "failed", "reason": "not empty"})
    wait_for(
        lambda: condition(cluster, namespace, "Restored").get("reason") == "RestoreFailed",
        "the first restore failing",
        operator=operator,
    )
    patch_agent(
        cluster, namespace, {"spec": {"restore": {"from": BACKUP, "force": True, "requestId": "2"}}}
    )
    jobs = wait_for(
        lambda: len(found := restore_jobs(cluster, namespace)) == 2 and found,
        "a second restore Job for the new request",
        operator=operator,
    )
    second = next(j for j in jobs if j["metadata"]["name"] != first["metadata"]["name"])
    assert second["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "--force"
    wait_for(
        lambda: condition(cluster, namespace, "Restored").get("reason") == "Restoring",
        "Restored back to Restoring",
        operator=operator,
    )
    assert replicas(cluster, namespace) == 0
