"""The backup manifest and the checks that prove a backup is whole.

Pure apart from reading files: a backup directory holds ``dump.pgc`` (a
``pg_dump -Fc`` archive), or ``dump.pgc.age`` (that archive encrypted with age),
and ``manifest.json``. The manifest records the stored file's size and sha256,
so truncation, corruption or tampering is caught before anything is decrypted or
a restore starts (and, encrypted, the archive's own sha256 after decryption),
and the row counts and content checksums per table taken in the dump's own
snapshot, so a restore can prove it brought back exactly what was dumped.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ragagent.backup.errors import CorruptBackupError

FORMAT = "ragagent-backup/1"
DUMP_FILE = "dump.pgc"
ENCRYPTED_DUMP_FILE = "dump.pgc.age"
DUMP_FILES = (DUMP_FILE, ENCRYPTED_DUMP_FILE)
MANIFEST_FILE = "manifest.json"
TMP_SUFFIX = ".tmp"
_ID = re.compile(r"^(\d{8}T\d{6}\.\d{3}Z)-([0-9a-f]{8})$")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Manifest:
    """Everything a restore needs to check; ``rows``/``checksums`` are keyed by table."""

    id: str
    created_at: str
    database: str
    server_version: str
    schema_version: str | None
    embedding_model: str | None
    embedding_dimension: int | None
    size: int
    sha256: str
    rows: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    format: str = FORMAT
    # Encrypted backups: the stored file, its cipher, and the plain archive's sha256.
    dump_file: str = DUMP_FILE
    encryption: str | None = None
    plain_sha256: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest; raises CorruptBackupError for anything that is not one."""
        try:
            data: Any = json.loads(text)
            manifest = cls(**data)
        except (ValueError, TypeError) as exc:
            raise CorruptBackupError(f"manifest.json is not a valid manifest: {exc}") from None
        if manifest.format != FORMAT:
            raise CorruptBackupError(f"unsupported backup format {manifest.format!r}")
        if manifest.dump_file not in DUMP_FILES:  # a name, never a path out of the backup
            raise CorruptBackupError(f"unsupported dump file {manifest.dump_file!r}")
        if (manifest.encryption is None) != (manifest.dump_file == DUMP_FILE):
            raise CorruptBackupError("manifest encryption and dump file disagree")
        return manifest


def build_backup_id(now: datetime, token: str) -> str:
    """``20250310T020000.123Z-1a2b3c4d``: sorts by time (to the millisecond), unique per run."""
    moment = now.astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}Z-{token}"


def parse_backup_time(name: str) -> datetime | None:
    """The creation time encoded in a backup directory name; None for other names."""
    match = _ID.match(name.removesuffix(TMP_SUFFIX))
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise CorruptBackupError(f"{directory.name}: no {MANIFEST_FILE}; not a complete backup")
    return Manifest.from_json(path.read_text(encoding="utf-8"))


def verify_backup(directory: Path) -> Manifest:
    """Check the stored dump against its manifest (size, then sha256); returns the manifest.

    Raises CorruptBackupError naming what is wrong: a missing file, a truncated or
    extended dump, or content that no longer matches its checksum.
    """
    manifest = read_manifest(directory)
    name = manifest.dump_file
    dump = directory / name
    if not dump.is_file():
        raise CorruptBackupError(f"{directory.name}: {name} is missing")
    size = dump.stat().st_size
    if size != manifest.size:
        raise CorruptBackupError(
            f"{directory.name}: {name} is {size} bytes but the manifest says "
            f"{manifest.size} (truncated or damaged)"
        )
    if sha256_file(dump) != manifest.sha256:
        raise CorruptBackupError(f"{directory.name}: {name} fails its sha256 checksum")
    return manifest
