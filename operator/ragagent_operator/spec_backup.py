"""``spec.backup`` and ``spec.restore``: scheduled backups, their encryption to age public
keys and their copy to S3-compatible object storage; and restores from the volume or the
bucket.

Encryption: the recipients are public keys, so they are plain fields; only the restore
reads a private identity, from a Secret labelled for RagAgent use. A copy leaves the
cluster only encrypted: ``objectStorage`` requires ``encryption`` (a CRD rule), since the
bucket's operators, and whoever reads its credentials, must not be able to read the data.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from ragagent_operator import spec_base

# Space-separated: CEL string literals have no \s escape, and cron fields never hold tabs.
CRON_RE = r"^ *[0-9A-Za-z*/,?-]+( +[0-9A-Za-z*/,?-]+){4} *$"


def cron_rule(field: str) -> dict[str, Any]:
    """The CRD rule that ``field`` is a 5-field cron expression, so a typo is refused at apply
    time rather than by the API server when the operator writes the CronJob."""
    message = f"{field} must be a 5-field cron expression like '0 3 * * *'"
    return {
        "x-kubernetes-validations": [{"rule": f"self.matches('{CRON_RE}')", "message": message}]
    }


# A single directory name on the backup volume: no slash, so never a path outside it.
BACKUP_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# An age X25519 public key (bech32, lower case): what `age-keygen -y` prints.
AGE_RECIPIENT_RE = r"^age1[02-9ac-hj-np-z]{58}$"
# S3's bucket naming rules; the agent checks the same (ragagent.backup.remote).
BUCKET_NAME_RE = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
# Key prefix segments: no empty, '.' or '..' segment, no leading or trailing slash.
PREFIX_RE = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$"
ENDPOINT_RE = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$"


class BackupEncryption(spec_base.ApiModel):
    recipients: list[str] = Field(
        description=(
            "age public keys (age1..., from `age-keygen -y`) every backup is encrypted to; "
            "any one matching private identity restores. Public keys are not secret."
        ),
        min_length=1,
        json_schema_extra={
            "minItems": 1,
            "maxItems": 16,
            "items": {"maxLength": 62},
            "x-kubernetes-validations": [
                {
                    "rule": f"self.all(r, r.matches('{AGE_RECIPIENT_RE}'))",
                    "message": "backup.encryption.recipients must be age public keys (age1...)",
                }
            ],
        },
    )


class SecretName(spec_base.ApiModel):
    name: str = Field(description=spec_base.REFERENCED_NAME_DOC, max_length=253)


class ObjectStorage(spec_base.ApiModel):
    endpoint: str = Field(
        description=(
            "S3-compatible endpoint, scheme://host[:port] only, e.g. "
            "https://s3.eu-west-1.amazonaws.com or http://minio.storage.svc:9000. The backup "
            "Jobs' NetworkPolicy opens its port (spec.networkPolicy.endpoints.objectStorage "
            "narrows the peers)."
        ),
        max_length=253,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.matches('{ENDPOINT_RE}')",
                    "message": "backup.objectStorage.endpoint must be http(s)://host[:port]",
                }
            ]
        },
    )
    bucket: str = Field(
        description="Bucket name (created beforehand).",
        max_length=63,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.matches('{BUCKET_NAME_RE}')",
                    "message": "backup.objectStorage.bucket must be an S3 bucket name",
                }
            ]
        },
    )
    prefix: str | None = Field(
        None,
        description="Key prefix, e.g. prod/ragagent; backups go to <prefix>/<backup id>/.",
        max_length=512,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.matches('{PREFIX_RE}')",
                    "message": "backup.objectStorage.prefix must be path segments like a/b",
                }
            ]
        },
    )
    region: str | None = Field(None, description="Bucket region.", max_length=63)
    credentials_secret_ref: SecretName = Field(
        description=(
            "Secret with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, read only by the "
            "backup and restore Jobs. " + spec_base.REFERENCED_NAME_DOC
        )
    )
    retention: int = Field(
        30, description="Backups kept in the bucket (the newest N).", ge=1, le=10000
    )
    max_age_days: int | None = Field(
        None,
        description="Also delete bucket copies older than this; the newest always stays.",
        ge=1,
        le=36500,
    )


class IdentitySecretRef(spec_base.ApiModel):
    name: str = Field(description=spec_base.REFERENCED_NAME_DOC, max_length=253)
    key: str = Field(
        "identity",
        description="Key holding the age identity file (AGE-SECRET-KEY-1...).",
        max_length=253,
    )


class BackupStorage(spec_base.ApiModel):
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "!(has(self.existingClaim) && has(self.storageClassName))",
            "backup.storage takes existingClaim or storageClassName, not both",
        )
    ]
    size: str = Field("20Gi", description="Size of the backup volume.", max_length=63)
    storage_class_name: str | None = Field(None, description="StorageClass of the backup volume.")
    existing_claim: str | None = Field(
        None, description="Use this PersistentVolumeClaim instead of creating one."
    )


class Backup(spec_base.ApiModel):
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "!has(self.objectStorage) || has(self.encryption)",
            "backup.objectStorage needs backup.encryption: backups leave the cluster encrypted",
        )
    ]
    enabled: bool = Field(False, description="Run 'ragagent backup' on a schedule.")
    schedule: str = Field(
        "0 3 * * *",
        description="5-field cron schedule (minute hour day month weekday).",
        max_length=128,
        json_schema_extra=cron_rule("backup.schedule"),
    )
    retention: int = Field(7, description="Backups kept (the newest N).", ge=1, le=1000)
    storage: BackupStorage = Field(
        default_factory=BackupStorage, description="Where the backups are written."
    )
    encryption: BackupEncryption | None = Field(
        None,
        description=(
            "Encrypt every backup to age public keys. Unset, backups are plain pg_dump "
            "archives on the volume (Ready carries a warning in production)."
        ),
    )
    object_storage: ObjectStorage | None = Field(
        None,
        description="Also copy each backup to S3-compatible storage, with its own retention.",
    )


class Restore(spec_base.ApiModel):
    from_: str = Field(
        alias="from",
        description=(
            "Backup to restore: the name of a backup directory on the backup volume, e.g. "
            "20250310T020000.123Z-1a2b3c4d (the last part of 'backup' in a backup Job's report). "
            "The agent is scaled to 0 while the restore Job runs, and comes back when it succeeds."
        ),
        min_length=1,
        max_length=253,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.matches('{BACKUP_NAME_RE}')",
                    "message": "restore.from must be the name of a backup directory, not a path",
                }
            ]
        },
    )
    source: Literal["volume", "bucket"] = Field(
        "volume",
        description=(
            "Where 'from' is read: the backup volume, or backup.objectStorage's bucket "
            "(after the volume is lost)."
        ),
    )
    identity_secret_ref: IdentitySecretRef | None = Field(
        None, description="The age identity that decrypts an encrypted backup."
    )
    force: bool = Field(
        False,
        description=(
            "Replace the contents of a database that already holds tables. Without it the "
            "restore refuses a non-empty database and fails (the agent stays stopped)."
        ),
    )
    request_id: str | None = Field(
        None,
        description=(
            "Free text; change it to run the same restore again. Each distinct "
            "(from, force, requestId) runs exactly once."
        ),
        max_length=63,
    )
