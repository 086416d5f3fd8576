"""The pool connects again soon after a long database outage (bench.soak db-outage).

psycopg_pool retries a failed connection attempt with a doubling backoff (1, 2, 4, 8 s,
...) for ``reconnect_timeout``; with its default of 5 minutes, the next attempt after a
9 s outage came about 6 s after the database was back, and after a 30 s one, 15 s.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ragagent.core import errors
from ragagent.core.db import Database
from tests.support.fixtures_pg import build_test_settings
from tests.support.stoppable_pg import StoppableDatabase

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 9.0  # past three doublings of the backoff: 1 + 2 + 4 s
BACK_WITHIN_SECONDS = 3.0


async def keep_failing(db: Database, seconds: float) -> None:
    """Ask for a connection every 0.2 s, as requests would; each must be a 503."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with pytest.raises(errors.DatabaseUnavailable):
            await db.ping()
        await asyncio.sleep(0.2)


async def seconds_until_served(db: Database) -> float:
    started = time.monotonic()
    while True:
        try:
            await db.ping()
            return time.monotonic() - started
        except errors.DatabaseUnavailable:
            assert time.monotonic() - started < 30, "the pool never connected again"
            await asyncio.sleep(0.05)


async def test_the_pool_serves_within_seconds_of_the_database_returning(tmp_path: Path) -> None:
    server = StoppableDatabase(tmp_path / "pg")
    settings = build_test_settings(
        server.url, tmp_path, db_pool_timeout_seconds=0.5, db_pool_max_size=2
    )
    db = await Database.open(server.url, settings)
    try:
        await db.ping()
        await asyncio.to_thread(server.stop)
        await keep_failing(db, OUTAGE_SECONDS)
        await asyncio.to_thread(server.start)
        assert await seconds_until_served(db) < BACK_WITHIN_SECONDS
    finally:
        await db.close()
        server.close()
