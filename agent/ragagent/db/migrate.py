"""Forward-only, versioned schema migrations.

Migrations are the files ``migrations/NNNN_name.sql``, applied in order and
recorded in ``schema_migrations``. ``migrate`` runs them all in one transaction
that first takes a transaction-scoped advisory lock: a second replica starting
at the same time waits, then finds nothing left to do. A failing migration
rolls back entirely, so the schema is never half-upgraded.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ragagent.core.db import Connection, Database

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# An arbitrary constant that identifies "schema migration" among advisory locks.
MIGRATION_LOCK = 0x52414700

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migration files in version order; a duplicate version is a packaging bug."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"badly named migration file: {path.name}")
        if match.group(1) in found:
            raise ValueError(f"two migrations share version {match.group(1)}")
        found[match.group(1)] = Migration(match.group(1), path.stem, path)
    return list(found.values())


async def migrate(db: Database, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; returns the names applied (empty when up to date)."""
    applied_now: list[str] = []
    async with db.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute(_CREATE_TABLE)
        done = await _applied_versions(conn)
        for migration in load_migrations(directory):
            if migration.version in done:
                continue
            log.info("applying migration %s", migration.name)
            await conn.execute(migration.sql().encode())
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied_now.append(migration.name)
    return applied_now


async def pending(db: Database, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Names of migrations not yet applied (readiness reports them)."""
    async with db.connection() as conn:
        exists = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS ok")
        row = await exists.fetchone()
        done = await _applied_versions(conn) if row and row["ok"] else set()
    return [m.name for m in load_migrations(directory) if m.version not in done]


async def _applied_versions(conn: Connection) -> set[str]:
    cursor = await conn.execute("SELECT version FROM schema_migrations")
    return {str(row["version"]) for row in await cursor.fetchall()}
