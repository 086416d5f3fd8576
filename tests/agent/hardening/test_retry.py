"""retry_read against a real PostgreSQL whose backend is killed mid-read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import psycopg
import pytest
from psycopg import errors as pg_errors

from ragagent.core.db import Database
from ragagent.core.retry import jittered_delay, retry_read

T = TypeVar("T")


class Counted(Generic[T]):
    """A read for retry_read that counts its calls and tells each which one it is."""

    def __init__(self, read: Callable[[int], Awaitable[T]]) -> None:
        self.read = read
        self.calls = 0

    async def __call__(self) -> T:
        self.calls += 1
        return await self.read(self.calls)


async def test_a_read_survives_its_backend_being_terminated(db: Database) -> None:
    async def read(call: int) -> int:
        async with db.connection() as conn:
            if call == 1:
                await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            cur = await conn.execute("SELECT 41 + 1 AS answer")
            row = await cur.fetchone()
        assert row is not None
        return int(row["answer"])

    counted = Counted(read)
    assert await retry_read(counted, base_delay=0.01) == 42
    assert counted.calls == 2


async def test_non_transient_errors_are_not_retried(db: Database) -> None:
    async def read(call: int) -> None:
        async with db.connection() as conn:
            await conn.execute("SELECT * FROM no_such_table")

    counted = Counted(read)
    with pytest.raises(pg_errors.UndefinedTable):
        await retry_read(counted)
    assert counted.calls == 1


async def test_attempts_are_bounded() -> None:
    async def read(call: int) -> None:
        async with await psycopg.AsyncConnection.connect(
            "postgresql://nobody@127.0.0.1:1/none", connect_timeout=1
        ):
            pass

    counted = Counted(read)
    with pytest.raises(psycopg.OperationalError):
        await retry_read(counted, attempts=3, base_delay=0.001)
    assert counted.calls == 3


def test_backoff_is_jittered_and_capped() -> None:
    delays = [
        jittered_delay(attempt, base=0.1, cap=0.5) for attempt in range(10) for _ in range(20)
    ]
    assert all(0 <= d <= 0.5 for d in delays)
    assert len(set(delays)) > 100
