"""``ragagent backup``, ``ragagent restore`` and ``ragagent purge-conversations``.

Each command ends with exactly one JSON line on stdout, ``{"result":
"succeeded", ...}`` or ``{"result": "failed", "reason": ...}``, which the
operator reads from the backup Job; logs go to stderr. Exit codes: 0 done,
1 failed, 2 usage or configuration error.

The database is ``--database-url``, else ``DATABASE_URL``, else the embedded
server in ``RAGAGENT_DATA_DIR`` (development).
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer

from ragagent.backup import cli_options as opt
from ragagent.backup import dump, remote, restore, retention
from ragagent.backup.errors import BackupError
from ragagent.core import termination
from ragagent.core.config import ConfigError, Settings, load_settings, settings_class
from ragagent.core.errors import AgentError
from ragagent.core.logging import configure_logging

EXIT_FAILED = 1
EXIT_USAGE = 2
TERMINATION_LOG_ENV = termination.TERMINATION_LOG_ENV
TERMINATION_MESSAGE_LIMIT = termination.TERMINATION_MESSAGE_LIMIT
SUMMARY_FIELDS = ("result", "reason", "backup", "size", "database", "duration_seconds")
log = logging.getLogger(__name__)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="PostgreSQL URL; default DATABASE_URL or embedded."),
]


def emit(result: str, **fields: Any) -> None:
    """Print the final JSON line, and leave it as the pod's termination message.

    In a Kubernetes Job the operator then reads the result from the pod status
    without fetching logs. The file is ``RAGAGENT_TERMINATION_MESSAGE_PATH``, else
    ``/dev/termination-log`` when it exists (outside a pod it does not).
    """
    report = {"result": result, **fields}
    line = json.dumps(report, sort_keys=True, default=str)
    typer.echo(line)
    if len(line.encode()) >= TERMINATION_MESSAGE_LIMIT:  # row counts of many tables
        line = json.dumps({k: report[k] for k in SUMMARY_FIELDS if k in report}, default=str)
    termination.leave(line)


def termination_log_path() -> Path | None:
    """Where the result line goes for the kubelet; None outside a container."""
    return termination.log_path()


def _settings(command: str) -> Settings:
    """These commands sign nothing: in production they need the database URL, not the
    signing secret."""
    try:
        settings = load_settings(settings_class(command))
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        emit("failed", reason="invalid configuration")
        raise typer.Exit(EXIT_USAGE) from None
    configure_logging(settings)
    return settings


def resolve_url(settings: Settings, url: str | None) -> str:
    """The explicit URL, the configured one, or the embedded server's."""
    if url:
        return url
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from ragagent.core.embedded_pg import start_embedded

    return start_embedded(settings.data_dir).url


def _run(action: Callable[[], dict[str, Any]]) -> None:
    """Run a command body, turning every expected failure into a failed JSON line."""
    started = time.monotonic()
    try:
        fields = action()
    except BackupError as exc:
        reason = str(exc)
    except AgentError as exc:
        reason = exc.detail
    except psycopg.Error as exc:
        reason = "database error: " + (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    except OSError as exc:
        reason = f"{exc.strerror or type(exc).__name__}: {exc.filename or ''}".strip(": ")
    else:
        emit("succeeded", **fields)
        return
    emit("failed", reason=reason, duration_seconds=round(time.monotonic() - started, 3))
    raise typer.Exit(EXIT_FAILED)


def backup(
    directory: Annotated[Path, typer.Option("--dir", help="Directory that holds the backups.")],
    database_url: DatabaseUrl = None,
    keep: Annotated[int, typer.Option(min=1, help="Complete backups to keep.")] = 7,
    min_age_days: Annotated[
        float, typer.Option(min=0, help="Never delete a backup younger than this (days).")
    ] = 0,
    recipient: opt.Recipients = None,
    recipients_file: opt.RecipientsFile = None,
    require_encryption: opt.RequireEncryption = False,
    s3_endpoint: opt.S3Endpoint = None,
    s3_bucket: opt.S3Bucket = None,
    s3_prefix: opt.S3Prefix = "",
    s3_region: opt.S3Region = None,
    s3_keep: opt.S3Keep = 7,
    s3_max_age_days: opt.S3MaxAgeDays = None,
) -> None:
    """Back up the agent's database (consistent pg_dump + manifest), encrypted to the age
    recipients when given, apply retention, then copy it to the bucket when one is set."""
    settings = _settings("backup")

    def action() -> dict[str, Any]:
        recipients = opt.recipients_from(recipient, recipients_file, required=require_encryption)
        bucket = opt.bucket_from(s3_endpoint, s3_bucket, s3_prefix, s3_region)
        url = resolve_url(settings, database_url)
        result = dump.run_backup(url=url, directory=directory, recipients=recipients)
        min_age = timedelta(days=min_age_days)
        deleted = retention.apply_retention(directory, keep=keep, min_age=min_age)
        fields = {**result.report(), "deleted": deleted}
        if bucket is not None:
            max_age = None if s3_max_age_days is None else timedelta(days=s3_max_age_days)
            fields["uploaded"] = remote.upload_backup(bucket, result.path, result.manifest)
            fields["deleted_from_bucket"] = remote.apply_remote_retention(
                bucket, keep=s3_keep, max_age=max_age
            )
        return fields

    _run(action)


def restore_backup(
    backup_path: Annotated[
        str,
        typer.Argument(
            metavar="BACKUP", help="A backup directory, or with --from-bucket a backup id."
        ),
    ],
    database_url: DatabaseUrl = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the contents of a non-empty database.")
    ] = False,
    maintenance_work_mem: Annotated[
        str, typer.Option(help="PostgreSQL memory for rebuilding indexes during the restore.")
    ] = restore.DEFAULT_MAINTENANCE_WORK_MEM,
    identity_file: opt.IdentityFile = None,
    from_bucket: Annotated[
        bool, typer.Option("--from-bucket", help="Fetch BACKUP from the bucket, not the volume.")
    ] = False,
    s3_endpoint: opt.S3Endpoint = None,
    s3_bucket: opt.S3Bucket = None,
    s3_prefix: opt.S3Prefix = "",
    s3_region: opt.S3Region = None,
) -> None:
    """Verify a backup (decrypting it if encrypted), restore it, and check row counts and
    checksums afterwards."""
    settings = _settings("restore")

    def action() -> dict[str, Any]:
        identities = opt.identities_from(identity_file)
        url = resolve_url(settings, database_url)
        with tempfile.TemporaryDirectory(prefix="ragagent-fetch-") as fetched:
            path = Path(backup_path)
            if from_bucket:
                bucket = opt.bucket_from(s3_endpoint, s3_bucket, s3_prefix, s3_region)
                if bucket is None:
                    raise BackupError("--from-bucket needs --s3-endpoint and --s3-bucket")
                path = remote.download_backup(bucket, backup_path, Path(fetched))
            result = restore.run_restore(
                backup=path,
                url=url,
                force=force,
                maintenance_work_mem=maintenance_work_mem,
                identities=identities,
            )
        return result.report()

    _run(action)


def purge_conversations(
    database_url: DatabaseUrl = None,
    days: Annotated[
        int | None, typer.Option(min=1, help="Default: RAGAGENT_CONVERSATION_RETENTION_DAYS.")
    ] = None,
) -> None:
    """Delete conversations idle for longer than the retention period (audited)."""
    settings = _settings("purge-conversations")
    retention_days = days or settings.conversation_retention_days
    if retention_days is None:
        typer.echo(
            "no retention: pass --days or set RAGAGENT_CONVERSATION_RETENTION_DAYS", err=True
        )
        emit("failed", reason="no retention configured")
        raise typer.Exit(EXIT_USAGE)

    def action() -> dict[str, Any]:
        url = resolve_url(settings, database_url)
        return asyncio.run(_purge(url, settings, retention_days))

    _run(action)


async def _purge(url: str, settings: Settings, days: int) -> dict[str, Any]:
    from ragagent.core.db import Database
    from ragagent.services.retention import purge_expired_conversations

    db = await Database.open(url, settings)
    try:
        deleted = await purge_expired_conversations(db, retention_days=days)
    finally:
        await db.close()
    return {
        "retention_days": days,
        "conversations": deleted.conversations,
        "messages": deleted.messages,
    }


def register(app: typer.Typer) -> None:
    """Add the three commands to the top-level CLI."""
    app.command("backup")(backup)
    app.command("restore")(restore_backup)
    app.command("purge-conversations")(purge_conversations)
