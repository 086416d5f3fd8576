"""SQL for the ``api_keys`` table (migration 0003; ``expires_at`` from 0005).

Only HMAC hashes are stored; the clear key exists once, in the output of
``ragagent apikey create``. Rows are never deleted, only revoked, so an audit
can still tell which key did what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ragagent.core.db import Database


@dataclass(frozen=True)
class ApiKeyRecord:
    id: int
    name: str
    prefix: str
    key_hash: str
    user_id: str | None
    scopes: frozenset[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def is_expired(self, now: datetime | None = None) -> bool:
        """True once ``expires_at`` has passed; a key without one never expires."""
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))


_COLUMNS = (
    "id, name, prefix, key_hash, user_id, scopes, created_at, last_used_at, revoked_at, expires_at"
)


def _record(row: dict[str, Any]) -> ApiKeyRecord:
    """Rows come as dicts (the pool's row factory)."""
    return ApiKeyRecord(**{**row, "scopes": frozenset(row["scopes"])})


async def insert_key(
    db: Database,
    *,
    name: str,
    prefix: str,
    key_hash: str,
    user_id: str | None,
    scopes: list[str],
    expires_in: timedelta | None = None,
) -> ApiKeyRecord:
    """Store a key; ``expires_in`` counts from the database's clock, None means never."""
    async with db.connection() as conn:
        cur = await conn.execute(
            f"INSERT INTO api_keys (name, prefix, key_hash, user_id, scopes, expires_at) "
            f"VALUES (%s, %s, %s, %s, %s, now() + %s) RETURNING {_COLUMNS}",
            (name, prefix, key_hash, user_id, scopes, expires_in),
        )
        row = await cur.fetchone()
    assert row is not None
    return _record(row)


async def find_by_prefix(db: Database, prefix: str) -> ApiKeyRecord | None:
    """The key with this public prefix, revoked or not; None when unknown."""
    async with db.connection() as conn:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE prefix = %s", (prefix,))
        row = await cur.fetchone()
    return _record(row) if row else None


async def touch(db: Database, key_id: int) -> None:
    """Record use, at most once a minute per key, so hot keys cause few writes."""
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE api_keys SET last_used_at = now() WHERE id = %s "
            "AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
            (key_id,),
        )


async def rehash(db: Database, key_id: int, *, old: str, new: str) -> None:
    """Replace a key's hash after a pepper rotation; a no-op if another replica already did."""
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE api_keys SET key_hash = %s WHERE id = %s AND key_hash = %s", (new, key_id, old)
        )


async def revoke(db: Database, key_id: int) -> bool:
    """Revoke a key; False when it does not exist or was already revoked."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
            (key_id,),
        )
        return cur.rowcount == 1


async def list_keys(db: Database) -> list[ApiKeyRecord]:
    async with db.connection() as conn:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id")
        return [_record(row) for row in await cur.fetchall()]


async def any_active(db: Database) -> bool:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL) AS found"
        )
        row = await cur.fetchone()
    return bool(row and row["found"])


async def count_expiring(db: Database, within: timedelta) -> int:
    """Active keys that expire within ``within`` from now and have not expired yet."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL "
            "AND expires_at > now() AND expires_at <= now() + %s",
            (within,),
        )
        row = await cur.fetchone()
    return int(row["n"]) if row else 0
