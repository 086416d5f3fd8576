"""Scheduled backups: a CronJob running ``ragagent backup`` and the PVC it writes to."""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import configmap, secrets
from ragagent_operator.render.common import (
    Agent,
    Manifest,
    labels,
    metadata,
    name_of,
    restricted_container_security,
    restricted_pod_security,
)

BACKUP_DIR = "/backups"
# The kubelet's default path, set explicitly: ``ragagent backup`` writes its result line there.
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
BACKUP_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"memory": "1Gi"},
}


def backup_claim_name(agent: Agent) -> str:
    existing = agent.spec.backup.storage.existing_claim
    return existing or name_of(agent, "backups")


def build_backup_pvc(agent: Agent) -> Manifest | None:
    """None when ``backup.storage.existingClaim`` names a claim the user manages."""
    storage = agent.spec.backup.storage
    if storage.existing_claim:
        return None
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class_name:
        spec["storageClassName"] = storage.storage_class_name
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(agent, backup_claim_name(agent), c.COMPONENT_BACKUP),
        "spec": spec,
    }


def build_backup_cronjob(agent: Agent, *, image: str, suspend: bool = False) -> Manifest:
    """Forbid overlapping runs: two dumps at once double the load for no benefit.
    ``suspend`` while a restore runs: a dump of a half-restored database is no backup."""
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(agent, name_of(agent, "backup"), c.COMPONENT_BACKUP),
        "spec": {
            "schedule": agent.spec.backup.schedule,
            "suspend": suspend,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels(agent, c.COMPONENT_BACKUP)},
                "spec": {
                    "backoffLimit": 1,
                    "activeDeadlineSeconds": 6 * 3600,
                    "template": {
                        "metadata": {"labels": labels(agent, c.COMPONENT_BACKUP)},
                        "spec": _pod(agent, image),
                    },
                },
            },
        },
    }


def pre_reindex_backup_name(agent: Agent, settings_hash: str) -> str:
    return name_of(agent, f"backup-pre-{settings_hash[:10]}")


def build_pre_reindex_backup_job(agent: Agent, *, settings_hash: str, image: str) -> Manifest:
    """A one-off backup before a re-index, from the CronJob's own template.

    Named by the hash of the new index settings, so each change takes exactly one backup;
    it carries the backup labels, so its outcome also counts as the last backup.
    """
    job = build_backup_cronjob(agent, image=image)["spec"]["jobTemplate"]
    meta = metadata(agent, pre_reindex_backup_name(agent, settings_hash), c.COMPONENT_BACKUP)
    meta["annotations"] = {c.ANNOTATION_INDEX_HASH: settings_hash}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": job["spec"]}


def _pod(agent: Agent, image: str) -> dict[str, Any]:
    args = ["backup", "--dir", BACKUP_DIR, "--keep", str(agent.spec.backup.retention)]
    return build_backup_volume_pod(agent, image=image, name="backup", args=args)


def build_backup_volume_pod(
    agent: Agent, *, image: str, name: str, args: list[str], read_only: bool = False
) -> dict[str, Any]:
    """A one-shot ``ragagent <args>`` pod with the database URL and the backup volume.

    The database URL is the one Secret these commands read: they sign nothing, so they
    run in production without the server's signing secret (``DataSettings``).

    Shared by backups (writing) and restores (``read_only``: a restore must never
    change the backups it reads). The final JSON line is also the container's
    termination message, so the operator reads the result from the pod status.
    """
    db = secrets.database_ref(agent)
    mount: dict[str, Any] = {"name": "backups", "mountPath": BACKUP_DIR}
    claim: dict[str, Any] = {"claimName": backup_claim_name(agent)}
    if read_only:
        mount["readOnly"] = claim["readOnly"] = True
    container = {
        "name": name,
        "image": image,
        "command": ["ragagent"],
        "args": args,
        "envFrom": [{"configMapRef": {"name": configmap.config_map_name(agent)}}],
        "env": [db.build_env_var()],
        "resources": BACKUP_RESOURCES,
        "securityContext": restricted_container_security(),
        "terminationMessagePath": TERMINATION_MESSAGE_PATH,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [mount, {"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }
    return {
        "restartPolicy": "Never",
        "serviceAccountName": name_of(agent),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": restricted_pod_security(),
        "containers": [container],
        "volumes": [
            {"name": "backups", "persistentVolumeClaim": claim},
            {"name": "tmp", "emptyDir": {}},
        ],
    }
