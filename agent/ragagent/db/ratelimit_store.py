"""A ``limits`` storage in the agent's own PostgreSQL, shared by every replica.

``limits`` keeps its counters in a storage backend; ``PostgresStorage`` is one, registered
under the scheme ``async+postgres`` (``storage_from_string("async+postgres://", db=db)``)
and built on the app's pool. Each operation is one statement, so replicas never need a
lock beyond the row lock that ``INSERT ... ON CONFLICT DO UPDATE`` takes:

- fixed windows (part of the ``limits`` storage interface; the agent's token budgets
  are reservations in ``db.token_usage`` instead): ``rate_limit_counters``, a counter
  that restarts once its window has expired;
- moving windows (requests per minute and hour): ``rate_limit_windows``, the accepted hits
  counted in 60 buckets per window, so a row stays small whatever the limit. A hit is
  accepted when the hits still inside the window plus it fit the limit; the row keeps
  the decision for ``RETURNING``. A hit leaves the window up to one bucket (a sixtieth
  of it) later than in ``memory://``, never earlier.

Times are the database's clock (``now()``), so replicas whose clocks differ agree on
every window. Expired rows are swept by ``sweep_forever``; until then they are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import psycopg
from limits.aio.storage import MovingWindowSupport, Storage

from ragagent.core import errors
from ragagent.core.db import Database

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 300.0
BUCKETS_PER_WINDOW = 60

# A counter's commit need not wait for its WAL flush (about one fsync, several ms, per hit;
# make bench). A database crash may then forget the last moments of counts, letting a few
# requests more through once; it never corrupts them, and an agent restart loses nothing.
# Set inside the statement itself (a separate SET would cost a round trip), for this
# transaction only: the pool's other work keeps waiting for its flush.
_ASYNC_COMMIT = "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"
_NOW = "extract(epoch FROM now())::float8"
_INCR = f"""
INSERT INTO rate_limit_counters AS c (key, value, expires_at)
SELECT %(key)s, %(amount)s, now() + make_interval(secs => %(expiry)s) {_ASYNC_COMMIT}
ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN c.expires_at > now() THEN c.value + EXCLUDED.value
                 ELSE EXCLUDED.value END,
    expires_at = CASE WHEN c.expires_at > now() THEN c.expires_at
                      ELSE EXCLUDED.expires_at END
RETURNING value
"""
_GET = "SELECT value, extract(epoch FROM expires_at)::float8 AS expires_at "
_GET += "FROM rate_limit_counters WHERE key = %(key)s AND expires_at > now()"
# A bucket is live while its end is inside the window: a hit leaves the window up to one
# grain (a sixtieth of it) late, never early, so no moving window ever holds more than
# the limit.
_LIVE = f"(u.b + 1) * %(grain)s > {_NOW} - %(expiry)s"
_ACQUIRE = f"""
INSERT INTO rate_limit_windows AS w (key, buckets, counts, accepted, expires_at)
SELECT %(key)s, ARRAY[floor({_NOW} / %(grain)s)::bigint], ARRAY[%(amount)s::int], true,
       now() + make_interval(secs => %(expiry)s + %(grain)s) {_ASYNC_COMMIT}
ON CONFLICT (key) DO UPDATE SET (buckets, counts, accepted, expires_at) = (
    SELECT coalesce(array_agg(k.b ORDER BY k.b DESC) FILTER (WHERE k.b IS NOT NULL), '{{}}'),
           coalesce(array_agg(k.c ORDER BY k.b DESC) FILTER (WHERE k.b IS NOT NULL), '{{}}'),
           d.fits,
           CASE WHEN d.fits THEN EXCLUDED.expires_at ELSE w.expires_at END
    FROM (SELECT coalesce(sum(u.c), 0) + %(amount)s <= %(limit)s AS fits
          FROM unnest(w.buckets, w.counts) AS u (b, c) WHERE {_LIVE}) AS d
    LEFT JOIN LATERAL (
        SELECT x.b, sum(x.c)::int AS c
        FROM (SELECT u.b, u.c FROM unnest(w.buckets, w.counts) AS u (b, c) WHERE {_LIVE}
              UNION ALL
              SELECT EXCLUDED.buckets[1], %(amount)s::int WHERE d.fits) AS x
        GROUP BY x.b) AS k ON true
    GROUP BY d.fits)
RETURNING accepted
"""
# The window's start, for limits, is the end of its oldest live bucket: once that has aged
# out of the window, that bucket's hits are free again.
_WINDOW = f"""
SELECT sum(u.c) AS hits, (min(u.b) + 1) * %(grain)s AS oldest
FROM rate_limit_windows AS w, unnest(w.buckets, w.counts) AS u (b, c)
WHERE w.key = %(key)s AND {_LIVE}
"""
_CLEAR = """
WITH counters AS (DELETE FROM rate_limit_counters WHERE key = %(key)s)
DELETE FROM rate_limit_windows WHERE key = %(key)s
"""
_RESET = """
WITH counters AS (DELETE FROM rate_limit_counters RETURNING 1),
     windows AS (DELETE FROM rate_limit_windows RETURNING 1)
SELECT (SELECT count(*) FROM counters) + (SELECT count(*) FROM windows) AS removed
"""
_SWEEP = """
WITH counters AS (DELETE FROM rate_limit_counters WHERE expires_at <= now() RETURNING 1),
     windows AS (DELETE FROM rate_limit_windows WHERE expires_at <= now() RETURNING 1)
SELECT (SELECT count(*) FROM counters) + (SELECT count(*) FROM windows) AS removed
"""


class PostgresStorage(Storage, MovingWindowSupport):
    """Fixed and moving windows in ``rate_limit_counters`` / ``rate_limit_windows``.

    A database outage surfaces as ``errors.DatabaseUnavailable`` (503 with Retry-After)
    from the pool, and any other database error as ``limits.errors.StorageError``.
    """

    # The registry reads this list when the class is made (limits declares it a plain list).
    STORAGE_SCHEME = ["async+postgres"]  # noqa: RUF012

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = True,
        *,
        db: Database,
        **options: float | str | bool,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.db = db

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return psycopg.Error

    async def _row(self, query: str, params: dict[str, Any]) -> dict[str, Any] | None:
        async with self.db.connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchone()

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        row = await self._row(_INCR, {"key": key, "amount": amount, "expiry": expiry})
        return int(row["value"]) if row else 0

    async def get(self, key: str) -> int:
        row = await self._row(_GET, {"key": key})
        return int(row["value"]) if row else 0

    async def get_expiry(self, key: str) -> float:
        """When the key's window ends (epoch seconds); now when it has none."""
        row = await self._row(_GET, {"key": key})
        return float(row["expires_at"]) if row else time.time()

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:  # as limits' own storages: more than the limit never fits
            return False
        params = {"key": key, "limit": limit, "amount": amount, **_window(expiry)}
        row = await self._row(_ACQUIRE, params)
        return bool(row and row["accepted"])

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(time of the oldest hit in the window, hits in it); (now, 0) when empty."""
        row = await self._row(_WINDOW, {"key": key, **_window(expiry)})
        if not row or not row["hits"]:
            return time.time(), 0
        return float(row["oldest"]), int(row["hits"])

    async def check(self) -> bool:
        try:
            await self._row("SELECT 1 AS ok", {})
        except (psycopg.Error, errors.DatabaseUnavailable):
            return False
        return True

    async def reset(self) -> int | None:
        row = await self._row(_RESET, {})
        return int(row["removed"]) if row else 0

    async def clear(self, key: str) -> None:
        async with self.db.connection() as conn:
            await conn.execute(_CLEAR, {"key": key})


def _window(expiry: float) -> dict[str, float]:
    """A moving window's length and its bucket grain, both in seconds."""
    return {"expiry": float(expiry), "grain": float(expiry) / BUCKETS_PER_WINDOW}


async def sweep_expired(db: Database) -> int:
    """Delete every expired counter and window; returns how many rows went."""
    async with db.connection() as conn:
        cursor = await conn.execute(_SWEEP)
        row = await cursor.fetchone()
    return int(row["removed"]) if row else 0


async def sweep_forever(db: Database, interval: float = SWEEP_INTERVAL_SECONDS) -> None:
    """Sweep now and every ``interval`` seconds; an outage is logged and retried later.

    Several replicas may sweep at once: the deletes are idempotent, so they only share
    the work.
    """
    while True:
        try:
            removed = await sweep_expired(db)
        except (psycopg.Error, errors.DatabaseUnavailable) as exc:
            log.warning("rate-limit sweep failed: %s", type(exc).__name__)
        else:
            log.debug("rate-limit sweep removed %d expired rows", removed)
        await asyncio.sleep(interval)
