"""``ragagent backup``: one consistent ``pg_dump -Fc`` plus its manifest.

Consistency comes from one snapshot. A REPEATABLE READ transaction exports its
snapshot, ``pg_dump --snapshot`` dumps exactly that snapshot, and the row
counts and content checksums for the manifest are read in the same
transaction while the dump runs. So every write acknowledged before the backup
started is in it, and the manifest describes the dump exactly.

The backup is written to ``<id>.tmp`` and renamed only once the dump and the
manifest are on disk, so a failed or interrupted backup never looks complete.

Given age recipients, pg_dump writes into a private temporary directory (the
Job pod's emptyDir) and only the encrypted ``dump.pgc.age`` reaches the backup
volume, so no plaintext is ever on the volume or in the bucket.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import IsolationLevel
from pyrage import x25519

from ragagent.backup import crypt, pg
from ragagent.backup.manifest import (
    DUMP_FILE,
    ENCRYPTED_DUMP_FILE,
    MANIFEST_FILE,
    TMP_SUFFIX,
    Manifest,
    build_backup_id,
    sha256_file,
)

log = logging.getLogger(__name__)

# Vectors are text in a dump and compress poorly: gzip level 1 is ~6x faster than
# the default level 6 for ~13% more bytes (measured on 20k 384-d chunks).
DUMP_COMPRESSION = "gzip:1"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    duration_seconds: float

    def report(self) -> dict[str, Any]:
        """The fields of the final JSON line the operator reads."""
        return {
            "backup": str(self.path),
            "size": self.manifest.size,
            "rows": self.manifest.rows,
            "schema_version": self.manifest.schema_version,
            "encryption": self.manifest.encryption,
            "duration_seconds": round(self.duration_seconds, 3),
        }


@dataclass(frozen=True)
class SnapshotFacts:
    """What the manifest records about the database, read in the dump's snapshot."""

    server_version: str
    schema_version: str | None
    embedding_model: str | None
    embedding_dimension: int | None
    rows: dict[str, int]
    checksums: dict[str, str]


def run_backup(
    *,
    url: str,
    directory: Path,
    now: datetime | None = None,
    recipients: list[x25519.Recipient] | None = None,
) -> BackupResult:
    """Back up the database at ``url`` into a new directory under ``directory``,
    encrypted to ``recipients`` when given."""
    started = time.monotonic()
    target = pg.build_target(url)
    directory.mkdir(parents=True, exist_ok=True)
    backup_id = build_backup_id(now or datetime.now(UTC), secrets.token_hex(4))
    scratch = directory / (backup_id + TMP_SUFFIX)
    scratch.mkdir()
    try:
        manifest = _write_backup(target, scratch, backup_id, recipients)
        final = directory / backup_id
        scratch.rename(final)
        _fsync_dir(directory)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    log.info("backup %s written: %d bytes", backup_id, manifest.size)
    return BackupResult(final, manifest, time.monotonic() - started)


def _write_backup(
    target: pg.Target, scratch: Path, backup_id: str, recipients: list[x25519.Recipient] | None
) -> Manifest:
    if not recipients:
        dump = scratch / DUMP_FILE
        facts = _dump_in_one_snapshot(target, dump)
        return _write_manifest(target, scratch, backup_id, facts, dump)
    with tempfile.TemporaryDirectory(prefix="ragagent-dump-") as private:
        plain = Path(private) / DUMP_FILE
        facts = _dump_in_one_snapshot(target, plain)
        plain_sha256 = sha256_file(plain)
        dump = scratch / ENCRYPTED_DUMP_FILE
        crypt.encrypt_file(plain, dump, recipients)
    return _write_manifest(target, scratch, backup_id, facts, dump, plain_sha256)


def _write_manifest(
    target: pg.Target,
    scratch: Path,
    backup_id: str,
    facts: SnapshotFacts,
    dump: Path,
    plain_sha256: str | None = None,
) -> Manifest:
    _fsync_file(dump)
    manifest = Manifest(
        id=backup_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        database=target.dbname,
        server_version=facts.server_version,
        schema_version=facts.schema_version,
        embedding_model=facts.embedding_model,
        embedding_dimension=facts.embedding_dimension,
        size=dump.stat().st_size,
        sha256=sha256_file(dump),
        rows=facts.rows,
        checksums=facts.checksums,
        dump_file=dump.name,
        encryption=crypt.ENCRYPTION if plain_sha256 else None,
        plain_sha256=plain_sha256,
    )
    (scratch / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    _fsync_file(scratch / MANIFEST_FILE)
    return manifest


def _dump_in_one_snapshot(target: pg.Target, dump: Path) -> SnapshotFacts:
    """Run pg_dump on an exported snapshot and read the facts in that snapshot meanwhile."""
    bin_dir = pg.find_pg_bin()
    with pg.connect(target, autocommit=False) as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = str(conn.execute("SELECT pg_export_snapshot()").fetchone()[0])  # type: ignore[index]
        args = ["--format=custom", f"--compress={DUMP_COMPRESSION}", f"--snapshot={snapshot}"]
        args.append(f"--file={dump}")
        process = pg.start_tool(bin_dir, "pg_dump", [*args, f"--dbname={target.conninfo}"], target)
        try:
            facts = _read_facts(conn)
        finally:
            # pg_dump needs the exporting transaction alive until it has imported it.
            pg.finish_tool(process, "pg_dump")
        conn.rollback()
    return facts


def _read_facts(conn: psycopg.Connection[Any]) -> SnapshotFacts:
    tables = pg.list_tables(conn)
    model, dimension = _embedding(conn)
    return SnapshotFacts(
        server_version=str(conn.execute("SHOW server_version").fetchone()[0]),  # type: ignore[index]
        schema_version=_schema_version(conn),
        embedding_model=model,
        embedding_dimension=dimension,
        rows=pg.count_rows(conn, tables),
        checksums=pg.checksum_tables(conn, tables),
    )


def _exists(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def _schema_version(conn: psycopg.Connection[Any]) -> str | None:
    if not _exists(conn, "public.schema_migrations"):
        return None
    row = conn.execute("SELECT max(version) FROM public.schema_migrations").fetchone()
    return str(row[0]) if row and row[0] is not None else None


def _embedding(conn: psycopg.Connection[Any]) -> tuple[str | None, int | None]:
    if not _exists(conn, "public.embedding_index"):
        return None, None
    row = conn.execute("SELECT model, dimension FROM public.embedding_index LIMIT 1").fetchone()
    return (str(row[0]), int(row[1])) if row else (None, None)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: the directory entry itself must reach the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
