"""The encryption and object-storage options of ``ragagent backup`` and ``ragagent restore``.

Each option also reads an environment variable, which is how the operator's backup
and restore Jobs set them: the public recipients and the bucket's coordinates as
plain values, the S3 credentials and the age identity from Secrets. The S3
credentials are read from the environment only, never from the command line,
where ``ps`` would show them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from pyrage import x25519

from ragagent.backup import crypt
from ragagent.backup.errors import BackupError
from ragagent.backup.remote import Bucket, build_bucket

ACCESS_KEY_ENV = "RAGAGENT_BACKUP_S3_ACCESS_KEY_ID"
SECRET_KEY_ENV = "RAGAGENT_BACKUP_S3_SECRET_ACCESS_KEY"  # noqa: S105 (a variable name)
_S3 = "Object storage"
_CRYPT = "Encryption"


def _option(panel: str, envvar: str, text: str, *flags: str, least: float | None = None) -> Any:
    """A typer option in help panel ``panel`` that also reads environment variable ``envvar``."""
    return typer.Option(*flags, envvar=envvar, help=text, rich_help_panel=panel, min=least)


Recipients = Annotated[
    list[str] | None,
    _option(
        _CRYPT,
        "RAGAGENT_BACKUP_RECIPIENTS",
        "age public key (age1...) to encrypt to; repeat, or space-separated in the env.",
        "--recipient",
    ),
]
RecipientsFile = Annotated[
    Path | None,
    _option(_CRYPT, "RAGAGENT_BACKUP_RECIPIENTS_FILE", "File of age public keys, one a line."),
]
RequireEncryption = Annotated[
    bool,
    _option(
        _CRYPT,
        "RAGAGENT_BACKUP_REQUIRE_ENCRYPTION",
        "Refuse to write a backup when no recipient is given.",
        "--require-encryption",
    ),
]
IdentityFile = Annotated[
    Path | None,
    _option(
        _CRYPT,
        "RAGAGENT_BACKUP_IDENTITY_FILE",
        "age identity file (AGE-SECRET-KEY-1...) that decrypts an encrypted backup.",
    ),
]
S3Endpoint = Annotated[
    str | None,
    _option(
        _S3,
        "RAGAGENT_BACKUP_S3_ENDPOINT",
        "S3-compatible endpoint, e.g. https://s3.eu-west-1.amazonaws.com.",
    ),
]
S3Bucket = Annotated[str | None, _option(_S3, "RAGAGENT_BACKUP_S3_BUCKET", "Bucket name.")]
S3Prefix = Annotated[str, _option(_S3, "RAGAGENT_BACKUP_S3_PREFIX", "Key prefix in the bucket.")]
S3Region = Annotated[str | None, _option(_S3, "RAGAGENT_BACKUP_S3_REGION", "Bucket region.")]
S3Keep = Annotated[
    int,
    _option(_S3, "RAGAGENT_BACKUP_S3_KEEP", "Complete backups to keep in the bucket.", least=1),
]
S3MaxAgeDays = Annotated[
    float | None,
    _option(
        _S3,
        "RAGAGENT_BACKUP_S3_MAX_AGE_DAYS",
        "Delete bucket copies older than this (days); the newest always stays.",
        least=0,
    ),
]


def recipients_from(
    values: list[str] | None, file: Path | None, *, required: bool
) -> list[x25519.Recipient] | None:
    """The age recipients of the options; None (plain backups) only when allowed."""
    lines = [part for value in values or [] for part in value.replace(",", " ").split()]
    if file is not None:
        lines += [crypt.read_text(file, "recipients")]
    if not lines:
        if required:
            raise BackupError(
                "encryption is required but no age recipient is given "
                "(--recipient or RAGAGENT_BACKUP_RECIPIENTS)"
            )
        return None
    return crypt.parse_recipients("\n".join(lines))


def identities_from(file: Path | None) -> list[x25519.Identity] | None:
    return crypt.read_identities(file) if file is not None else None


def bucket_from(
    endpoint: str | None, name: str | None, prefix: str, region: str | None
) -> Bucket | None:
    """None without an endpoint; the credentials come from the environment."""
    if not endpoint:
        return None
    return build_bucket(
        endpoint=endpoint,
        name=name or "",
        prefix=prefix,
        region=region or None,
        access_key=os.environ.get(ACCESS_KEY_ENV),
        secret_key=os.environ.get(SECRET_KEY_ENV),
    )
