"""Migration 0005 on a database written before it: conversation owners become namespaced
by credential kind, and API keys gain an expiry that old keys do not have."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import migrate

pytestmark = pytest.mark.db

OWNERS_BEFORE = ["key:7", "alice", "bob", "anonymous"]


def migrations_up_to(directory: Path, last: str) -> Path:
    """A migrations directory that stops at ``last``, so later migrations (which this test is
    not about) neither run nor change what the upgrade step reports."""
    directory.mkdir()
    for migration in migrate.load_migrations():
        if migration.version <= last:
            shutil.copy(migration.path, directory / migration.path.name)
    return directory


async def test_owners_written_by_api_keys_move_to_their_namespace(
    pg_settings: Settings, tmp_path: Path
) -> None:
    assert pg_settings.database_url is not None
    db = await Database.open(pg_settings.database_url.get_secret_value(), pg_settings)
    try:
        await migrate.migrate(db, migrations_up_to(tmp_path / "before", "0004"))
        async with db.connection() as conn:
            await conn.execute(
                "INSERT INTO api_keys (name, prefix, key_hash, user_id) "
                "VALUES ('shared', 'p1', 'h', 'alice')"
            )
            for owner in OWNERS_BEFORE:
                await conn.execute("INSERT INTO conversations (user_id) VALUES (%s)", (owner,))
        upgrade = migrations_up_to(tmp_path / "upgrade", "0005")
        assert await migrate.migrate(db, upgrade) == ["0005_key_expiry_and_owners"]
        async with db.connection() as conn:
            cursor = await conn.execute("SELECT user_id FROM conversations ORDER BY created_at")
            owners = [row["user_id"] for row in await cursor.fetchall()]
            cursor = await conn.execute("SELECT expires_at FROM api_keys")
            expiry = [row["expires_at"] for row in await cursor.fetchall()]
    finally:
        await db.close()
    # Token subjects ("bob") keep their bare id, which no principal matches any more: the
    # issuer is configuration, so the migrations runbook gives the UPDATE that names it.
    assert sorted(owners) == sorted(["apikey:7", "apikey-user:alice", "bob", "anonymous"])
    assert expiry == [None]
