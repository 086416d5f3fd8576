"""The PostgreSQL limits storage on the real database: two limiters stand for two replicas.

Each limiter gets its own ``PostgresStorage`` object (as each replica builds its own), and
both must count together, keep their windows across a new storage object (a restart),
and leave nothing behind once the windows have expired.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from limits.storage import storage_from_string

from ragagent.core import errors
from ragagent.core.db import Database
from ragagent.core.ratelimit import Limiter, ScopeLimit
from ragagent.core.security import SCOPES, Principal
from ragagent.db import ratelimit_store
from ragagent.db.ratelimit_store import PostgresStorage


def replica(db: Database, *, per_minute: int = 2, burst: int = 1) -> Limiter:
    return Limiter(default=ScopeLimit(per_minute, burst), storage=PostgresStorage(db=db))


def user(name: str) -> Principal:
    return Principal(id=name, kind="jwt", scopes=SCOPES)


async def test_two_replicas_together_allow_exactly_the_limit(db: Database) -> None:
    first, second = replica(db), replica(db)
    erin = user("erin")
    remaining = [
        (await limiter.hit(erin, "chat"))["RateLimit-Remaining"]
        for limiter in (first, second, first)
    ]
    assert remaining == ["2", "1", "0"]
    with pytest.raises(errors.RateLimited) as refused:
        await second.hit(erin, "chat")
    assert refused.value.headers["RateLimit-Limit"] == "3"
    # A hit leaves the window up to one bucket (1 s of a minute) late, never early.
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 61
    # Another identity and another scope have their own windows.
    await second.hit(user("frank"), "chat")
    await second.hit(erin, "admin")


async def test_the_windows_survive_a_new_storage_object(db: Database) -> None:
    erin = user("erin")
    for _ in range(3):
        await replica(db).hit(erin, "chat")
    with pytest.raises(errors.RateLimited):
        await replica(db).hit(erin, "chat")


async def test_concurrent_hits_across_replicas_never_pass_the_limit(db: Database) -> None:
    limiters = [replica(db, per_minute=5, burst=0) for _ in range(4)]
    grace = user("grace")

    async def hit(limiter: Limiter) -> bool:
        try:
            await limiter.hit(grace, "chat")
        except errors.RateLimited:
            return False
        return True

    accepted = await asyncio.gather(*(hit(limiters[i % 4]) for i in range(20)))
    assert sum(accepted) == 5


async def test_a_moving_window_frees_a_slot_once_its_oldest_hit_ages_out(db: Database) -> None:
    storage = PostgresStorage(db=db)
    assert await storage.acquire_entry("k", limit=2, expiry=1)
    assert await storage.acquire_entry("k", limit=2, expiry=1)
    assert not await storage.acquire_entry("k", limit=2, expiry=1)
    oldest, hits = await storage.get_moving_window("k", limit=2, expiry=1)
    assert hits == 2
    assert abs(oldest - time.time()) < 5  # the database's clock, in epoch seconds
    await asyncio.sleep(1.1)
    assert (await storage.get_moving_window("k", limit=2, expiry=1))[1] == 0
    assert await storage.acquire_entry("k", limit=2, expiry=1)
    assert not await storage.acquire_entry("k2", limit=2, expiry=1, amount=3)


async def test_a_fixed_window_restarts_after_it_expires_and_the_sweep_removes_it(
    db: Database,
) -> None:
    storage = PostgresStorage(db=db)
    assert await storage.incr("budget", expiry=1, amount=4) == 4
    assert await storage.incr("budget", expiry=1, amount=3) == 7
    assert await storage.get("budget") == 7
    await storage.acquire_entry("window", limit=1, expiry=1)
    await asyncio.sleep(1.1)
    assert await storage.get("budget") == 0
    assert await ratelimit_store.sweep_expired(db) == 2
    assert await storage.incr("budget", expiry=60) == 1


async def test_clear_reset_and_check(db: Database) -> None:
    storage = PostgresStorage(db=db)
    await storage.incr("a", expiry=60)
    await storage.acquire_entry("b", limit=5, expiry=60)
    await storage.clear("a")
    assert await storage.get("a") == 0
    assert await storage.reset() == 1
    assert await storage.check()


async def test_the_storage_is_registered_under_its_scheme(db: Database) -> None:
    # limits types its options as scalars; the pool goes through all the same.
    options: dict[str, Any] = {"db": db}
    assert isinstance(storage_from_string("async+postgres://", **options), PostgresStorage)


async def test_an_unreachable_database_refuses_with_503(db: Database) -> None:
    limiter = replica(db)
    await db.close()
    with pytest.raises(errors.ServiceUnavailable):
        await limiter.hit(user("ivan"), "chat")


async def test_a_window_row_stays_small_however_many_hits_it_holds(db: Database) -> None:
    storage = PostgresStorage(db=db)
    for _ in range(300):
        assert await storage.acquire_entry("busy", limit=100_000, expiry=3600)
    assert (await storage.get_moving_window("busy", limit=100_000, expiry=3600))[1] == 300
    async with db.connection() as conn:
        cursor = await conn.execute(
            "SELECT cardinality(buckets) AS n FROM rate_limit_windows WHERE key = 'busy'"
        )
        row = await cursor.fetchone()
    assert row is not None
    assert 1 <= row["n"] <= 61
