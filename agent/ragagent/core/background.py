"""A coroutine kept running in the background while a block (the app's lifespan) runs,
and the loop that keeps a gauge fresh from the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import psycopg

from ragagent.core import errors

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def running(loop: Coroutine[Any, Any, None], *, name: str) -> AsyncIterator[None]:
    """Run ``loop`` as a task until the block ends, then cancel it and wait for it."""
    task = asyncio.create_task(loop, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def refresh_forever(
    refresh: Callable[[], Awaitable[object]], *, interval: float, what: str
) -> None:
    """Run ``refresh`` now and then every ``interval`` seconds until cancelled. A failed
    refresh (the database down) keeps the gauge's last value and is retried at the next
    interval; ``what`` names it in the log."""
    while True:
        try:
            await refresh()
        except errors.AgentError as exc:
            log.warning("%s not refreshed, retrying later: %s", what, exc.detail)
        except psycopg.Error as exc:
            log.error("%s not refreshed, retrying later: %s", what, type(exc).__name__)
        await asyncio.sleep(interval)
