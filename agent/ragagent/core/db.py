"""The one PostgreSQL access point: a psycopg 3 async pool with pgvector types.

Every connection handed out by ``Database.connection()`` is one transaction:
it commits when the block ends normally and rolls back on an exception. Pool
timeouts and lost connections become ``errors.DatabaseUnavailable`` so clients
get a 503 with ``Retry-After`` instead of a 500.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import psycopg
from pgvector.psycopg import register_vector_async
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ragagent.core import errors

if TYPE_CHECKING:
    from ragagent.core.config import Settings

log = logging.getLogger(__name__)

Connection = psycopg.AsyncConnection[DictRow]  # rows come back as dicts

# Serialises "CREATE EXTENSION vector" between replicas starting together.
_EXTENSION_LOCK = 0x52414701
RETRY_AFTER_SECONDS = 5
# How long the pool retries one failed connection attempt, with its doubling backoff
# (1 s, then 2 s, ...), before it gives up on it; the next request that finds no connection
# starts a fresh attempt at once. psycopg_pool's default, 5 minutes, let the backoff grow
# past the outage: after a 30 s database restart the agent answered 503 for 23 s more
# (bench.soak db-outage). With 2 s an attempt is never more than 1 s away.
RECONNECT_TIMEOUT_SECONDS = 2.0


class Database:
    """Wraps the pool; create it with ``await Database.open(url, settings)``."""

    def __init__(self, pool: AsyncConnectionPool[Connection], *, url: str) -> None:
        self._pool = pool
        self.url = url

    @classmethod
    async def open(cls, url: str, settings: Settings, *, wait: bool = True) -> Database:
        """Connect, make sure pgvector exists, and open the pool.

        pgvector's types must exist before the pool registers them on each new
        connection, so the extension is created here rather than only in a
        migration. ``wait=False`` returns at once even when the server is down.
        """
        if wait:
            await ensure_vector_extension(url)
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            timeout=settings.db_pool_timeout_seconds,
            reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
            kwargs={"row_factory": dict_row},
            configure=register_vector_async,
            # No per-checkout health check: it would add a round trip to every
            # query. A connection broken by a server restart fails its next query
            # (DatabaseUnavailable, 503) and the pool then discards it.
            open=False,
            name="ragagent",
        )
        try:
            await pool.open(wait=wait, timeout=settings.db_pool_timeout_seconds)
        except PoolTimeout as exc:
            await pool.close()
            raise errors.DatabaseUnavailable("could not connect to the database") from exc
        return cls(pool, url=url)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A pooled connection running one transaction; outages raise DatabaseUnavailable."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            log.warning("database pool timeout: %s", self.pool_stats())
            raise _unavailable("database busy or unreachable, retry later") from exc
        except psycopg.OperationalError as exc:
            log.warning("database connection failed: %s", type(exc).__name__)
            raise _unavailable("database unreachable, retry later") from exc

    async def ping(self) -> None:
        """Round-trip ``SELECT 1``; raises DatabaseUnavailable when it fails."""
        async with self.connection() as conn:
            await conn.execute("SELECT 1")

    def pool_stats(self) -> dict[str, int]:
        """Pool size, connections in use and waiting clients (core.poolmetrics exports them)."""
        raw = self._pool.get_stats()
        size = int(raw.get("pool_size", 0))
        stats = {
            "size": size,
            "in_use": size - int(raw.get("pool_available", 0)),
            "waiting": int(raw.get("requests_waiting", 0)),
        }
        return stats

    async def close(self) -> None:
        await self._pool.close()


def _unavailable(detail: str) -> errors.DatabaseUnavailable:
    return errors.DatabaseUnavailable(detail, retry_after=RETRY_AFTER_SECONDS)


async def ensure_vector_extension(url: str) -> None:
    """Create the pgvector extension once, even with several replicas racing."""
    try:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise _unavailable("could not connect to the database") from exc
    async with conn:
        exists = await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        if await exists.fetchone() is not None:
            return
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_EXTENSION_LOCK,))
            await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
