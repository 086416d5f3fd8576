"""The restore Job: ``ragagent restore /backups/<from>``, once per distinct ``spec.restore``.

The Job is named by the hash of the request (from, force, requestId), so a
resync finds the Job it already created instead of starting another, and a
new request (another backup, or a changed requestId) gets a Job of its own.
"""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator import spec
from ragagent_operator.render import backup, backup_offsite, common, job

# backoffLimit 0: a failed restore needs a human (it rolled back; retrying won't help).
RUN = job.Run(
    c.COMPONENT_RESTORE, c.Annotation.RESTORE_REQUEST, backoff_limit=0, deadline_seconds=6 * 3600
)


def restore_request_hash(restore: spec.Restore) -> str:
    """Fields added later count only when set, so an upgrade re-runs no finished restore."""
    request = restore.model_dump(by_alias=True)
    if request["source"] == "volume":
        del request["source"]
    if request["identitySecretRef"] is None:
        del request["identitySecretRef"]
    return common.stable_hash(request)


def restore_job_name(agent: common.Agent, request_hash: str) -> str:
    return common.name_of(agent, f"restore-{request_hash[:10]}")


def build_restore_args(restore: spec.Restore) -> list[str]:
    if restore.source == "bucket":
        args = ["restore", restore.from_, "--from-bucket"]
    else:
        args = ["restore", f"{backup.BACKUP_DIR}/{restore.from_}"]
    return [*args, "--force"] if restore.force else args


def build_restore_job(agent: common.Agent, restore: spec.Restore, *, image: str) -> common.Manifest:
    """The backup volume is mounted read-only; credentials come from the same Secret
    as the backup CronJob's."""
    request_hash = restore_request_hash(restore)
    pod = backup.build_backup_volume_pod(
        agent, image=image, name="restore", args=build_restore_args(restore), read_only=True
    )
    identity = backup_offsite.identity_volume(restore)
    env = backup_offsite.build_restore_env(agent, restore)
    pod = backup_offsite.add_to_pod(pod, env, [identity] if identity else [])
    name = restore_job_name(agent, request_hash)
    return job.build_job(agent, RUN, name=name, made_for=request_hash, pod=pod)
