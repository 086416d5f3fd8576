"""One call's result shared: by the callers that arrive while it runs, and by those that
arrive within ``ttl`` seconds after it finished."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """At most one ``compute`` in flight, and none while its last result is fresh.

    A failed call is not remembered: its callers see the error, the next caller retries.
    """

    def __init__(self) -> None:
        self._value: T | None = None
        self._at = float("-inf")
        self._running: asyncio.Task[T] | None = None

    async def get(self, compute: Callable[[], Awaitable[T]], *, ttl: float) -> T:
        if self._running is None:
            if self._value is not None and time.monotonic() - self._at < ttl:
                return self._value
            self._running = asyncio.ensure_future(self._run(compute))
        # Shielded: one caller that goes away must not cancel the others' shared call.
        return await asyncio.shield(self._running)

    async def _run(self, compute: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await compute()
            self._value, self._at = value, time.monotonic()
            return value
        finally:
            self._running = None
