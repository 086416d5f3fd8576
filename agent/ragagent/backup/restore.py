"""``ragagent restore``: verify the backup, restore it, then prove the result.

Order matters: the dump is checked against its manifest before any database is
touched, a target that already holds tables is refused unless ``force``, and
``pg_restore`` runs in a single transaction, so a failed restore leaves the
target as it was. Afterwards every table's row count and content checksum must
equal the manifest's, and any HNSW index left invalid is rebuilt.

An encrypted backup is checked against its manifest, then decrypted into a
private temporary directory, whose archive must match the manifest's plain
sha256 before pg_restore reads it.
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pyrage import x25519

from ragagent.backup import crypt, pg
from ragagent.backup.errors import (
    BackupError,
    CorruptBackupError,
    TargetNotEmptyError,
    VerificationError,
)
from ragagent.backup.manifest import (
    DUMP_FILES,
    MANIFEST_FILE,
    Manifest,
    sha256_file,
    verify_backup,
)

log = logging.getLogger(__name__)

# pg_restore rebuilds the HNSW index; pgvector builds it far faster when the graph
# fits in maintenance_work_mem (about 200 MB for 100k 384-d vectors).
DEFAULT_MAINTENANCE_WORK_MEM = "256MB"
_MEMORY = re.compile(r"^[1-9][0-9]{0,6}(kB|MB|GB)$")
# pg_restore --list lines of an extension and of its comment, e.g.
# "3; 3079 16385 EXTENSION - vector" and "4211; 0 0 COMMENT - EXTENSION vector".
_EXTENSION_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:EXTENSION - |COMMENT - EXTENSION )(?P<name>\S+)")

_INVALID_HNSW = """
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = c.relam
WHERE am.amname = 'hnsw' AND NOT (i.indisvalid AND i.indisready)
"""


@dataclass(frozen=True)
class RestoreResult:
    backup: Path
    manifest: Manifest
    database: str
    duration_seconds: float
    reindexed: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """The fields of the final JSON line."""
        return {
            "backup": str(self.backup),
            "database": self.database,
            "rows": self.manifest.rows,
            "schema_version": self.manifest.schema_version,
            "reindexed": self.reindexed,
            "duration_seconds": round(self.duration_seconds, 3),
        }


def backup_directory(path: Path) -> Path:
    """Accept the backup directory or either file inside it."""
    return path.parent if path.name in (*DUMP_FILES, MANIFEST_FILE) else path


@contextmanager
def plain_dump(
    directory: Path, manifest: Manifest, identities: list[x25519.Identity] | None
) -> Iterator[Path]:
    """The verified backup's pg_dump archive: as stored, or decrypted into a private
    temporary directory that is removed afterwards."""
    stored = directory / manifest.dump_file
    if manifest.encryption is None:
        yield stored
        return
    if not identities:
        raise BackupError(
            f"backup {manifest.id} is encrypted ({manifest.encryption}): give the age "
            "identity that matches its public key (--identity-file)"
        )
    with tempfile.TemporaryDirectory(prefix="ragagent-restore-") as private:
        plain = Path(private) / stored.name.removesuffix(".age")
        crypt.decrypt_file(stored, plain, identities)
        if sha256_file(plain) != manifest.plain_sha256:
            raise CorruptBackupError(f"{directory.name}: the decrypted dump fails its sha256")
        yield plain


def run_restore(
    *,
    backup: Path,
    url: str,
    force: bool = False,
    maintenance_work_mem: str = DEFAULT_MAINTENANCE_WORK_MEM,
    identities: list[x25519.Identity] | None = None,
) -> RestoreResult:
    """Restore ``backup`` into the database at ``url`` (created when missing);
    ``identities`` decrypt an encrypted backup."""
    started = time.monotonic()
    if not _MEMORY.match(maintenance_work_mem):
        raise BackupError(f"maintenance_work_mem {maintenance_work_mem!r} is not like 256MB")
    directory = backup_directory(backup)
    manifest = verify_backup(directory)
    target = pg.build_target(url)
    with plain_dump(directory, manifest, identities) as dump:
        _ensure_database(target)
        _refuse_non_empty(target, force=force)
        session = {"maintenance_work_mem": maintenance_work_mem}
        _pg_restore(target, dump, force=force, session=session)
    with pg.connect(target, autocommit=True) as conn:
        conn.execute(
            "SELECT set_config('maintenance_work_mem', %s, false)", (maintenance_work_mem,)
        )
        reindexed = reindex_invalid_hnsw(conn)
        conn.execute("ANALYZE")
        verify_restored(conn, manifest)
    log.info("restored backup %s into database %s", manifest.id, target.dbname)
    return RestoreResult(directory, manifest, target.dbname, time.monotonic() - started, reindexed)


def _ensure_database(target: pg.Target) -> None:
    """Create the target database when it does not exist (restore into a named database).

    Only a missing database needs the maintenance database ``postgres``; a user
    without access to it can still restore into an existing database.
    """
    try:
        psycopg.connect(target.conninfo, password=target.password).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise pg.connect_error(target, exc) from None
    with pg.connect(target.with_dbname("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.dbname)))
    log.info("created database %s", target.dbname)


def _refuse_non_empty(target: pg.Target, *, force: bool) -> None:
    with pg.connect(target) as conn:
        tables = pg.list_tables(conn)
    if tables and not force:
        raise TargetNotEmptyError(
            f"database {target.dbname} is not empty ({len(tables)} tables, e.g. "
            f"{sorted(tables)[0]}); restore into an empty database or pass --force to replace it"
        )


def _pg_restore(target: pg.Target, dump: Path, *, force: bool, session: dict[str, str]) -> None:
    # Owners and grants name roles of the source cluster, which may not exist here.
    args = ["--exit-on-error", "--single-transaction", "--no-owner", "--no-acl"]
    if force:
        args += ["--clean", "--if-exists"]
    bin_dir = pg.find_pg_bin()
    entries = _entries_to_restore(bin_dir, dump, _installed_extensions(target))
    # The backup volume may be mounted read-only: the list goes to the temporary directory.
    with tempfile.NamedTemporaryFile("w", suffix=".list", encoding="utf-8") as listing:
        listing.write(entries)
        listing.flush()
        args += [f"--use-list={listing.name}", f"--dbname={target.conninfo}", str(dump)]
        pg.run_tool(bin_dir, "pg_restore", args, target, session)


def _installed_extensions(target: pg.Target) -> set[str]:
    with pg.connect(target) as conn:
        return {str(row[0]) for row in conn.execute("SELECT extname FROM pg_extension")}


def _entries_to_restore(bin_dir: Path, dump: Path, installed: set[str]) -> str:
    """The dump's table of contents without the extensions the target already has.

    The managed database's application role owns every table but not the extension,
    which the superuser created once: dropping it (--clean) or commenting on it would
    fail with "must be owner", and there is nothing of it to restore.
    """
    listed = subprocess.run(
        [str(bin_dir / "pg_restore"), "--list", str(dump)],
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        raise BackupError(f"pg_restore --list failed: {listed.stderr.strip()[:500]}")
    kept = [
        line
        for line in listed.stdout.splitlines()
        if (found := _EXTENSION_ENTRY.match(line)) is None or found["name"] not in installed
    ]
    return "\n".join(kept) + "\n"


def reindex_invalid_hnsw(conn: psycopg.Connection[Any]) -> list[str]:
    """REINDEX every HNSW index that is not valid and ready; returns their names."""
    names = [str(row[0]) for row in conn.execute(_INVALID_HNSW).fetchall()]
    for name in names:
        log.warning("rebuilding invalid HNSW index %s", name)
        conn.execute(sql.SQL("REINDEX INDEX {}").format(sql.SQL(name)))
    return names


def verify_restored(conn: psycopg.Connection[Any], manifest: Manifest) -> None:
    """Raise VerificationError unless every manifest table matches in count and content."""
    tables = pg.list_tables(conn)
    missing = sorted(set(manifest.rows) - set(tables))
    if missing:
        raise VerificationError(f"tables missing after restore: {', '.join(missing)}")
    wanted = {key: tables[key] for key in manifest.rows}
    counts = pg.count_rows(conn, wanted)
    wrong = [
        f"{key} has {counts[key]} rows, expected {n}"
        for key, n in manifest.rows.items()
        if counts[key] != n
    ]
    if wrong:
        raise VerificationError("row counts differ after restore: " + "; ".join(wrong))
    sums = pg.checksum_tables(conn, {key: wanted[key] for key in manifest.checksums})
    differ = sorted(key for key, value in manifest.checksums.items() if sums[key] != value)
    if differ:
        raise VerificationError(f"content checksums differ after restore: {', '.join(differ)}")
