"""The off-cluster copy: backups uploaded to S3-compatible storage, with their own retention.

Layout: ``<prefix>/<backup id>/<dump file>`` then ``<prefix>/<backup id>/manifest.json``.
The manifest goes last, so a backup whose upload broke off has no manifest and
never counts as complete (retention removes it after a day). The objects are the
files of the backup directory unchanged: encrypted when the backup is, so the
bucket never holds more than the volume does.

``build_bucket`` and ``build_remote_expired`` are pure; the rest talk to the
storage through the MinIO client. Credentials never reach a message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import MinioException

from ragagent.backup.errors import BackupError, CorruptBackupError
from ragagent.backup.manifest import MANIFEST_FILE, Manifest, parse_backup_time
from ragagent.backup.retention import STALE_TMP_AGE, Entry

log = logging.getLogger(__name__)

_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
# S3's bucket naming rules (the CRD checks the same pattern).
BUCKET_NAME_RE = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


@dataclass(frozen=True)
class Bucket:
    """Where the copies go; ``secret_key`` is left out of every repr."""

    host: str  # host[:port], what the client connects to
    secure: bool
    name: str
    prefix: str
    region: str | None
    access_key: str
    secret_key: str = field(repr=False)

    def key(self, backup_id: str, file: str) -> str:
        return f"{self.prefix}/{backup_id}/{file}" if self.prefix else f"{backup_id}/{file}"

    @property
    def listing_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""


def build_bucket(
    *,
    endpoint: str,
    name: str,
    prefix: str = "",
    region: str | None = None,
    access_key: str | None,
    secret_key: str | None,
) -> Bucket:
    """Check the settings; BackupError says which one is wrong (never its secret)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackupError(f"the S3 endpoint must be an http(s) URL, not {endpoint!r}")
    if parts.path.strip("/") or parts.query or parts.username:
        raise BackupError("the S3 endpoint is scheme://host[:port] only: the bucket goes apart")
    prefix = prefix.strip("/")
    if prefix and not _PREFIX.match(prefix):
        raise BackupError(f"the S3 prefix {prefix!r} may hold only letters, digits, . _ - and /")
    if not re.match(BUCKET_NAME_RE, name):
        raise BackupError(f"{name!r} is not an S3 bucket name (3-63 of a-z, 0-9, . and -)")
    if not access_key or not secret_key:
        raise BackupError("the S3 credentials are missing (access key id and secret access key)")
    return Bucket(
        parts.netloc, parts.scheme == "https", name, prefix, region, access_key, secret_key
    )


def build_remote_expired(
    entries: list[Entry], *, keep: int, max_age: timedelta | None, now: datetime
) -> list[str]:
    """Backup ids to delete from the bucket, oldest first.

    Complete backups beyond the newest ``keep`` go, and so do those older than
    ``max_age``, except the newest one: an old copy beats no copy. Incomplete
    uploads go once older than a day.
    """
    complete = sorted((e for e in entries if e.complete), key=lambda e: e.created, reverse=True)
    doomed = complete[keep:]
    if max_age is not None:
        doomed += [e for e in complete[1:keep] if now - e.created > max_age]
    doomed += [e for e in entries if not e.complete and now - e.created >= STALE_TMP_AGE]
    return [e.name for e in sorted(doomed, key=lambda e: e.created)]


@contextmanager
def _storage_errors(action: str, bucket: Bucket) -> Iterator[None]:
    """S3 and connection errors as a BackupError with the S3 code or the cause's kind:
    never the credentials, nor a signed URL."""
    try:
        yield
    except MinioException as exc:
        code = getattr(exc, "code", None) or type(exc).__name__
        raise BackupError(
            f"object storage {action} failed: {code} (bucket {bucket.name})"
        ) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        kind = type(getattr(exc, "reason", None) or exc).__name__
        raise BackupError(
            f"object storage {action} failed: cannot reach {bucket.host} ({kind})"
        ) from None


def client(bucket: Bucket) -> Minio:
    return Minio(
        bucket.host,
        access_key=bucket.access_key,
        secret_key=bucket.secret_key,
        secure=bucket.secure,
        region=bucket.region,
    )


def upload_backup(bucket: Bucket, directory: Path, manifest: Manifest) -> list[str]:
    """Upload a complete backup directory; returns the object keys, manifest last."""
    s3 = client(bucket)
    keys = []
    with _storage_errors("upload", bucket):
        for file in (manifest.dump_file, MANIFEST_FILE):
            key = bucket.key(manifest.id, file)
            s3.fput_object(bucket.name, key, str(directory / file))
            keys.append(key)
    log.info("backup %s copied to bucket %s", manifest.id, bucket.name)
    return keys


def list_remote(bucket: Bucket) -> list[Entry]:
    """The backups in the bucket under the prefix; other objects are left alone."""
    files: dict[str, set[str]] = {}
    with _storage_errors("listing", bucket):
        for item in client(bucket).list_objects(
            bucket.name, prefix=bucket.listing_prefix, recursive=True
        ):
            rest = str(item.object_name).removeprefix(bucket.listing_prefix)
            backup_id, _, file = rest.partition("/")
            files.setdefault(backup_id, set()).add(file)
    entries = []
    for backup_id, names in files.items():
        created = parse_backup_time(backup_id)
        if created is not None and backup_id == backup_id.removesuffix(".tmp"):
            entries.append(Entry(backup_id, created, MANIFEST_FILE in names))
    return entries


def apply_remote_retention(
    bucket: Bucket, *, keep: int, max_age: timedelta | None, now: datetime | None = None
) -> list[str]:
    """Delete the expired backups from the bucket; returns their ids."""
    moment = now or datetime.now(UTC)
    doomed = build_remote_expired(list_remote(bucket), keep=keep, max_age=max_age, now=moment)
    s3 = client(bucket)
    with _storage_errors("retention", bucket):
        for backup_id in doomed:
            listed = s3.list_objects(bucket.name, prefix=bucket.key(backup_id, ""), recursive=True)
            targets = [DeleteObject(str(item.object_name)) for item in listed]
            for error in s3.remove_objects(bucket.name, targets):
                raise BackupError(f"object storage retention failed: {error.code}")
            log.info("bucket retention deleted backup %s", backup_id)
    return doomed


def download_backup(bucket: Bucket, backup_id: str, target: Path) -> Path:
    """Fetch one backup into ``target/<id>``; the caller verifies it as any other."""
    if parse_backup_time(backup_id) is None or backup_id.endswith(".tmp"):
        raise BackupError(f"{backup_id!r} is not a backup id like 20250310T020000.123Z-1a2b3c4d")
    directory = target / backup_id
    directory.mkdir(parents=True)
    s3 = client(bucket)
    with _storage_errors("download", bucket):
        manifest_path = directory / MANIFEST_FILE
        try:
            s3.fget_object(bucket.name, bucket.key(backup_id, MANIFEST_FILE), str(manifest_path))
        except MinioException as exc:
            if getattr(exc, "code", None) == "NoSuchKey":
                raise BackupError(
                    f"no complete backup {backup_id} in bucket {bucket.name}"
                ) from None
            raise
        manifest = Manifest.from_json(manifest_path.read_text(encoding="utf-8"))
        if manifest.id != backup_id:
            raise CorruptBackupError(f"{backup_id}: the manifest names backup {manifest.id}")
        dump = directory / manifest.dump_file
        s3.fget_object(bucket.name, bucket.key(backup_id, manifest.dump_file), str(dump))
    return directory
