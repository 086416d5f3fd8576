"""What the backup and restore pods get for encrypted, off-cluster backups (pure).

The backup Job encrypts to ``spec.backup.encryption.recipients`` (public keys, plain env)
and copies each backup to ``spec.backup.objectStorage`` with the bucket's credentials from
their Secret (``secretKeyRef``, never a value). The restore Job gets the age identity as a
read-only file from its Secret, and the bucket's settings when it restores from the bucket.
The variables are the ``ragagent backup`` / ``restore`` options' own (cli_options).
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import spec_backup
from ragagent_operator.render import common, job

ACCESS_KEY_ENV = "RAGAGENT_BACKUP_S3_ACCESS_KEY_ID"
SECRET_KEY_ENV = "RAGAGENT_BACKUP_S3_SECRET_ACCESS_KEY"  # noqa: S105 (a variable name)
# The credentials Secret's keys: the names every S3 tool knows.
ACCESS_KEY_KEY = "AWS_ACCESS_KEY_ID"
SECRET_KEY_KEY = "AWS_SECRET_ACCESS_KEY"  # noqa: S105 (a key name)
IDENTITY_DIR = "/etc/ragagent/backup-identity"
IDENTITY_FILE = "identity"


def _plain(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def build_bucket_env(storage: spec_backup.ObjectStorage) -> list[dict[str, Any]]:
    """Where the bucket is, and its credentials by reference."""
    secret = storage.credentials_secret_ref.name
    env = [
        _plain("RAGAGENT_BACKUP_S3_ENDPOINT", storage.endpoint.rstrip("/")),
        _plain("RAGAGENT_BACKUP_S3_BUCKET", storage.bucket),
        _plain("RAGAGENT_BACKUP_S3_PREFIX", storage.prefix or ""),
    ]
    if storage.region:
        env.append(_plain("RAGAGENT_BACKUP_S3_REGION", storage.region))
    for name, key in ((ACCESS_KEY_ENV, ACCESS_KEY_KEY), (SECRET_KEY_ENV, SECRET_KEY_KEY)):
        env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    return env


def build_backup_env(agent: common.Agent) -> list[dict[str, Any]]:
    """The backup Job's encryption and bucket settings (none when both are off)."""
    backup = agent.spec.backup
    env = []
    if backup.encryption is not None:
        env.append(_plain("RAGAGENT_BACKUP_RECIPIENTS", " ".join(backup.encryption.recipients)))
        env.append(_plain("RAGAGENT_BACKUP_REQUIRE_ENCRYPTION", "true"))
    storage = backup.object_storage
    if storage is not None:
        env += build_bucket_env(storage)
        env.append(_plain("RAGAGENT_BACKUP_S3_KEEP", str(storage.retention)))
        if storage.max_age_days is not None:
            env.append(_plain("RAGAGENT_BACKUP_S3_MAX_AGE_DAYS", str(storage.max_age_days)))
    return env


def build_restore_env(agent: common.Agent, restore: spec_backup.Restore) -> list[dict[str, Any]]:
    env = []
    if restore.identity_secret_ref is not None:
        path = f"{IDENTITY_DIR}/{IDENTITY_FILE}"
        env.append(_plain("RAGAGENT_BACKUP_IDENTITY_FILE", path))
    storage = agent.spec.backup.object_storage
    if restore.source == "bucket" and storage is not None:
        env += build_bucket_env(storage)
    return env


def identity_volume(restore: spec_backup.Restore) -> job.Volume | None:
    """The age identity, one read-only file readable by the pod's user only."""
    ref = restore.identity_secret_ref
    if ref is None:
        return None
    source = {
        "secret": {
            "secretName": ref.name,
            "items": [{"key": ref.key, "path": IDENTITY_FILE}],
            "defaultMode": 0o400,
        }
    }
    return job.Volume("backup-identity", source, IDENTITY_DIR, read_only=True)


def add_to_pod(
    pod: dict[str, Any], env: list[dict[str, Any]], volumes: list[job.Volume]
) -> dict[str, Any]:
    """``pod`` with ``env`` and ``volumes`` added to its one container (a new dict)."""
    (container,) = pod["containers"]
    container = {
        **container,
        "env": [*container["env"], *env],
        "volumeMounts": [*container["volumeMounts"], *(v.build_mount() for v in volumes)],
    }
    volume_list = [*pod["volumes"], *(v.build_volume() for v in volumes)]
    return {**pod, "containers": [container], "volumes": volume_list}


def secret_names(agent: common.Agent) -> list[str]:
    """The Secrets the backup and restore Jobs read besides the database URL's."""
    names = []
    storage = agent.spec.backup.object_storage
    if storage is not None:
        names.append(storage.credentials_secret_ref.name)
    restore = agent.spec.restore
    if restore is not None and restore.identity_secret_ref is not None:
        names.append(restore.identity_secret_ref.name)
    return names
