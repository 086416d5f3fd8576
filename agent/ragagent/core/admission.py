"""Fair admission of chat turns: at most ``limit`` run at once, the rest wait in one queue.

Every interface (REST, SSE, WebSocket, OpenAI-compatible) starts its turns through
``ChatService.prepare_turn``, which takes a slot here first and gives it back when the
turn ends. Without it an overloaded process let every turn in, and they competed for the
database pool at each of their transactions: each checkout was a separate queue with a
5 s timeout, so some turns lost one of them (503 "database busy") while others overtook
them (``bench.soak mixed``: 1.5-2% of turns failed, p99 110 s at p50 14 s). Here a turn
waits once, first come first served; only a turn that waited ``wait_seconds`` gets a 503
with Retry-After. During shutdown the queued turns are refused at once, as new ones are.

Single event loop only: the counts are plain attributes, changed between awaits.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from dataclasses import dataclass

from ragagent.core import errors
from ragagent.core.metrics import CHAT_ADMISSIONS, CHAT_TURNS

log = logging.getLogger(__name__)

DRAINING_DETAIL = "The server is shutting down; retry on another replica"
DRAINING_RETRY_AFTER_SECONDS = 1


class Admission:
    """The turns running now and the queue of those waiting for a slot."""

    def __init__(self, *, limit: int, wait_seconds: float) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.running = 0
        self._queue: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def acquire(self) -> Slot:
        """A slot, at once when one is free and nobody queues, else after the turns queued
        before; raises ``errors.ServiceUnavailable`` after ``wait_seconds`` or on shutdown."""
        if self._closed:
            raise _draining()
        if self.running < self.limit and not self._queue:
            self.running += 1
            return self._admitted()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        self._publish()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await waiter
        except BaseException as exc:
            self._give_up(waiter)
            if isinstance(exc, TimeoutError):
                raise self._rejected() from None
            raise
        return self._admitted()

    def close(self) -> None:
        """Refuse every queued turn and every later one (the process is draining)."""
        self._closed = True
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_exception(_draining())
        self._publish()

    def release(self) -> None:
        """A turn ended: hand its slot to the longest-waiting turn, or free it."""
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():  # one that gave up is skipped
                waiter.set_result(None)
                self._publish()
                return
        self.running -= 1
        self._publish()

    def _give_up(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            # The slot was handed over just as the wait ended: pass it on, not lose it.
            self.release()
            return
        waiter.cancel()
        if waiter in self._queue:
            self._queue.remove(waiter)
        self._publish()

    def _admitted(self) -> Slot:
        CHAT_ADMISSIONS.labels("admitted").inc()
        self._publish()
        return Slot(self)

    def _rejected(self) -> errors.ServiceUnavailable:
        CHAT_ADMISSIONS.labels("rejected").inc()
        log.warning("a chat turn waited %.0f s for a slot; refused", self.wait_seconds)
        return errors.ServiceUnavailable(
            f"too many chat turns at once; none started within {self.wait_seconds:g} s",
            retry_after=max(1, math.ceil(self.wait_seconds / 10)),
        )

    def _publish(self) -> None:
        CHAT_TURNS.labels("running").set(self.running)
        CHAT_TURNS.labels("waiting").set(len(self._queue))


@dataclass
class Slot:
    """One admitted turn's place; ``release`` is idempotent, so every exit path may call it."""

    admission: Admission
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.admission.release()


def _draining() -> errors.ServiceUnavailable:
    CHAT_ADMISSIONS.labels("draining").inc()
    return errors.ServiceUnavailable(DRAINING_DETAIL, retry_after=DRAINING_RETRY_AFTER_SECONDS)
