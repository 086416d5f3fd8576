"""The restore Job: ``ragagent restore /backups/<from>``, once per distinct ``spec.restore``.

The Job is named by the hash of the request (from, force, requestId), so a
resync finds the Job it already created instead of starting another, and a
new request (another backup, or a changed requestId) gets a Job of its own.
"""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator.render import backup
from ragagent_operator.render.common import (
    Agent,
    Manifest,
    labels,
    metadata,
    name_of,
    stable_hash,
)
from ragagent_operator.spec import Restore


def restore_request_hash(restore: Restore) -> str:
    return stable_hash(restore.model_dump(by_alias=True))


def restore_job_name(agent: Agent, request_hash: str) -> str:
    return name_of(agent, f"restore-{request_hash[:10]}")


def build_restore_args(restore: Restore) -> list[str]:
    args = ["restore", f"{backup.BACKUP_DIR}/{restore.from_}"]
    return [*args, "--force"] if restore.force else args


def build_restore_job(agent: Agent, restore: Restore, *, image: str) -> Manifest:
    """backoffLimit 0: a failed restore needs a human (it rolled back; retrying won't help).

    The backup volume is mounted read-only; credentials come from the same Secret
    as the backup CronJob's.
    """
    request_hash = restore_request_hash(restore)
    meta = metadata(agent, restore_job_name(agent, request_hash), c.COMPONENT_RESTORE)
    meta["annotations"] = {c.ANNOTATION_RESTORE_REQUEST: request_hash}
    pod = backup.build_backup_volume_pod(
        agent, image=image, name="restore", args=build_restore_args(restore), read_only=True
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 6 * 3600,
            "template": {"metadata": {"labels": labels(agent, c.COMPONENT_RESTORE)}, "spec": pod},
        },
    }
