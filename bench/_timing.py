"""The timing loop the latency benchmarks share: concurrent callers, each timing its calls
one after another, summed up as a median and a 99th percentile."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

Caller = TypeVar("Caller")


async def latencies(
    call: Callable[[Caller], Awaitable[object]], callers: Sequence[Caller], per_caller: int
) -> list[float]:
    """Milliseconds per call: every caller at once, each making ``per_caller`` calls one
    after another (so a caller's call waits for its previous one, as a user's request does)."""

    async def calls_of(who: Caller) -> list[float]:
        times = []
        for _ in range(per_caller):
            started = time.perf_counter()
            await call(who)
            times.append((time.perf_counter() - started) * 1000)
        return times

    per_caller_times = await asyncio.gather(*(calls_of(who) for who in callers))
    return [ms for times in per_caller_times for ms in times]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile; ``values`` must not be empty."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summarize(name: str, times: Sequence[float]) -> dict[str, float]:
    """``<name>_p50_ms`` and ``<name>_p99_ms``, to the microsecond."""
    return {
        f"{name}_p50_ms": round(statistics.median(times), 3),
        f"{name}_p99_ms": round(percentile(times, 0.99), 3),
    }
