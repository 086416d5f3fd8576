"""A coroutine kept running in the background while a block (the app's lifespan) runs,
the loop that keeps a gauge fresh from the database, and ``Tasks``: work a request
started that must outlive it (a turn's token settlement retried while the database is
away), which the lifespan awaits at shutdown instead of letting it die with the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import psycopg

from ragagent.core import errors

log = logging.getLogger(__name__)
# How long stop() waits for a cancelled task before it cancels it again.
STOP_RECHECK_SECONDS = 1.0


@contextlib.asynccontextmanager
async def running(loop: Coroutine[Any, Any, None], *, name: str) -> AsyncIterator[None]:
    """Run ``loop`` as a task until the block ends, then cancel it and wait for it."""
    task = asyncio.create_task(loop, name=name)
    try:
        yield
    finally:
        await stop(task)


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again while it runs on: a
    loop body can turn the cancellation into an error it handles (a database driver that
    reports the cancelled query as an OperationalError), and a single cancel() then left
    the loop sleeping to its next round and the app's shutdown waiting on it for good."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_RECHECK_SECONDS)
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Tasks:
    """Tasks started while the app runs, held (the event loop keeps only weak references)
    until they end; ``join`` awaits them at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def join(self, seconds: float) -> None:
        """Wait up to ``seconds`` for every task, then cancel those still running
        (and wait for them to end), so none is left to die with the event loop."""
        pending = set(self._tasks)
        if not pending:
            return
        log.info("waiting up to %g s for %d background task(s)", seconds, len(pending))
        _, late = await asyncio.wait(pending, timeout=seconds)
        for task in late:
            log.error("background task %s still running at shutdown; cancelled", task.get_name())
            await stop(task)


async def refresh_forever(
    refresh: Callable[[], Awaitable[object]], *, interval: float, what: str
) -> None:
    """Run ``refresh`` now and then every ``interval`` seconds until cancelled. A failed
    refresh (the database down) keeps the gauge's last value and is retried at the next
    interval; ``what`` names it in the log."""
    while True:
        try:
            await refresh()
        except (errors.AgentError, psycopg.Error) as exc:
            if _is_cancelling():
                raise asyncio.CancelledError from exc  # the error is how the cancel surfaced
            # An outage the app reports (warning); a driver error it did not expect (error).
            if isinstance(exc, errors.AgentError):
                log.warning("%s not refreshed, retrying later: %s", what, exc.detail)
            else:
                log.error("%s not refreshed, retrying later: %s", what, type(exc).__name__)
        await asyncio.sleep(interval)


def _is_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
