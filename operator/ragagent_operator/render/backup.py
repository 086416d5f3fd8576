"""Scheduled backups: a CronJob running ``ragagent backup`` and the PVC it writes to."""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import backup_offsite, common, configmap, job, secrets

BACKUP_DIR = "/backups"
# Scheduled and pre-reindex backups alike; only the latter are annotated (by index settings).
RUN = job.Run(
    c.COMPONENT_BACKUP, c.Annotation.INDEX_HASH, backoff_limit=1, deadline_seconds=6 * 3600
)
UNENCRYPTED_WARNING = (
    "warning: backups are unencrypted pg_dump archives on the volume (whoever can read it "
    "reads every document and conversation); set spec.backup.encryption.recipients"
)
BACKUP_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"memory": "1Gi"},
}


def backup_claim_name(agent: common.Agent) -> str:
    existing = agent.spec.backup.storage.existing_claim
    return existing or common.name_of(agent, "backups")


def build_backup_pvc(agent: common.Agent) -> common.Manifest | None:
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
    meta = common.metadata(agent, backup_claim_name(agent), c.COMPONENT_BACKUP)
    return common.child("v1", "PersistentVolumeClaim", meta, spec=spec)


def build_backup_cronjob(
    agent: common.Agent, *, image: str, suspend: bool = False
) -> common.Manifest:
    """Forbid overlapping runs: two dumps at once double the load for no benefit.
    ``suspend`` while a restore runs: a dump of a half-restored database is no backup."""
    spec = {
        "schedule": agent.spec.backup.schedule,
        "suspend": suspend,
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 600,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": common.labels(agent, c.COMPONENT_BACKUP)},
            "spec": job.build_job_spec(agent, RUN, _pod(agent, image)),
        },
    }
    meta = common.metadata(agent, common.name_of(agent, "backup"), c.COMPONENT_BACKUP)
    return common.child("batch/v1", "CronJob", meta, spec=spec)


def pre_reindex_backup_name(agent: common.Agent, settings_hash: str) -> str:
    return common.name_of(agent, f"backup-pre-{settings_hash[:10]}")


def build_pre_reindex_backup_job(
    agent: common.Agent, *, settings_hash: str, image: str
) -> common.Manifest:
    """A one-off backup before a re-index, run as the CronJob runs its Jobs.

    Named by the hash of the new index settings, so each change takes exactly one backup;
    it carries the backup labels, so its outcome also counts as the last backup.
    """
    name = pre_reindex_backup_name(agent, settings_hash)
    return job.build_job(agent, RUN, name=name, made_for=settings_hash, pod=_pod(agent, image))


def _pod(agent: common.Agent, image: str) -> dict[str, Any]:
    """Encrypted and copied to the bucket when the spec says so (backup_offsite)."""
    args = ["backup", "--dir", BACKUP_DIR, "--keep", str(agent.spec.backup.retention)]
    pod = build_backup_volume_pod(agent, image=image, name="backup", args=args)
    return backup_offsite.add_to_pod(pod, backup_offsite.build_backup_env(agent), [])


def build_backup_volume_pod(
    agent: common.Agent, *, image: str, name: str, args: list[str], read_only: bool = False
) -> dict[str, Any]:
    """A ``ragagent <args>`` pod with the database URL and the backup volume, which reports.

    The database URL is the one Secret these commands read: they sign nothing, so they
    run in production without the server's signing secret (``DataSettings``).

    Shared by backups (writing) and restores (``read_only``: a restore must never
    change the backups it reads).
    """
    claim: dict[str, Any] = {"claimName": backup_claim_name(agent)}
    if read_only:
        claim["readOnly"] = True
    backups = job.Volume("backups", {"persistentVolumeClaim": claim}, BACKUP_DIR, read_only)
    return job.build_job_pod(
        agent,
        name=name,
        image=image,
        args=args,
        refs=[secrets.database_ref(agent)],
        resources=BACKUP_RESOURCES,
        volumes=[backups, job.TMP],
        reports=True,
    )


def build_backup_warnings(agent: common.Agent) -> list[str]:
    """What Ready's message warns of about backups: unencrypted ones of an agent in production
    (a demo without authentication is not warned). Empty when backups are off."""
    backup = agent.spec.backup
    if backup.enabled and backup.encryption is None and configmap.is_production(agent):
        return [UNENCRYPTED_WARNING]
    return []
