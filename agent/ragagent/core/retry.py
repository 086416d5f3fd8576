"""Retry idempotent database reads across transient failures.

Only reads may be retried blindly: a write that failed after the server
applied it must not be repeated. Transient means the connection dropped
(failover, restart, a killed backend), the pool could not hand out a
connection in time, or PostgreSQL asked for a retry (serialization failure,
deadlock). Delays grow exponentially with full jitter so replicas don't retry
in lockstep.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
from psycopg import errors as pg_errors

from ragagent.core import errors

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    errors.DatabaseUnavailable,
)


def jittered_delay(attempt: int, *, base: float, cap: float) -> float:
    """Full-jitter backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2**attempt))  # noqa: S311 - jitter, not crypto


async def retry_read(
    read: Callable[[], Awaitable[T]],
    *,
    attempts: int = 3,
    base_delay: float = 0.05,
    max_delay: float = 1.0,
) -> T:
    """Run ``read`` (a fresh coroutine per call) until it succeeds or attempts run out.

    Non-transient errors propagate at once; the last transient one propagates
    when every attempt failed.
    """
    for attempt in range(attempts):
        try:
            return await read()
        except TRANSIENT as exc:
            if attempt == attempts - 1:
                raise
            delay = jittered_delay(attempt, base=base_delay, cap=max_delay)
            log.info("transient database error (%s), retry in %.3fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: attempts must be >= 1")
