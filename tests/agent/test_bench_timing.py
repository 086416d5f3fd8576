"""The latency benchmarks' shared timing loop (bench/_timing): every call of every caller
is timed, callers run at once, and the summary is the median and the 99th percentile."""

from __future__ import annotations

import asyncio

from bench import _timing

PAUSE_SECONDS = 0.02


async def test_every_call_of_every_caller_is_timed_and_the_callers_run_at_once() -> None:
    seen: list[str] = []
    running: set[int] = set()
    most = 0

    async def call(who: str) -> None:
        nonlocal most
        seen.append(who)
        running.add(id(asyncio.current_task()))
        most = max(most, len(running))
        await asyncio.sleep(PAUSE_SECONDS)
        running.discard(id(asyncio.current_task()))

    times = await _timing.latencies(call, ["a", "b", "a"], 4)
    assert sorted(seen) == ["a"] * 8 + ["b"] * 4
    assert len(times) == 12
    assert min(times) >= PAUSE_SECONDS * 1000 * 0.9  # milliseconds, each call's own pause
    # One call at a time within a caller, the three callers side by side.
    assert most == 3


def test_the_summary_is_the_median_and_the_nearest_rank_99th_percentile() -> None:
    times = [float(n) for n in range(100, 0, -1)]
    assert _timing.summarize("hit_c1", times) == {"hit_c1_p50_ms": 50.5, "hit_c1_p99_ms": 99.0}
    assert _timing.percentile([7.0], 0.99) == 7.0
