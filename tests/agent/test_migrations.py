"""Migrations against the real embedded PostgreSQL: idempotent and safe to race."""

from __future__ import annotations

import asyncio

import pytest

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import migrate

pytestmark = pytest.mark.db


async def _open(settings: Settings) -> Database:
    assert settings.database_url is not None
    return await Database.open(settings.database_url.get_secret_value(), settings)


async def test_migrate_applies_everything_once_then_nothing(pg_settings: Settings) -> None:
    db = await _open(pg_settings)
    try:
        assert await migrate.pending(db) == [m.name for m in migrate.load_migrations()]
        first = await migrate.migrate(db)
        assert first[0] == "0001_documents"
        assert await migrate.migrate(db) == []
        assert await migrate.pending(db) == []
    finally:
        await db.close()


async def test_two_replicas_migrating_at_once_apply_each_migration_once(
    pg_settings: Settings,
) -> None:
    dbs = [await _open(pg_settings) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate.migrate(db) for db in dbs))
        applied = sorted(name for result in results for name in result)
        assert applied == [m.name for m in migrate.load_migrations()]
        async with dbs[0].connection() as conn:
            cursor = await conn.execute("SELECT count(*) AS n FROM schema_migrations")
            row = await cursor.fetchone()
        assert row is not None
        assert row["n"] == len(applied)
    finally:
        for db in dbs:
            await db.close()


async def test_migration_creates_the_tables_and_indexes(db: Database) -> None:
    async with db.connection() as conn:
        cursor = await conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('documents', 'chunks')"
        )
        indexes = {row["indexname"] for row in await cursor.fetchall()}
    assert {"chunks_tsv_idx", "documents_metadata_idx"} <= indexes


def test_migration_files_are_numbered_uniquely() -> None:
    versions = [m.version for m in migrate.load_migrations()]
    assert versions == sorted(set(versions))
    assert versions[0] == "0001"
