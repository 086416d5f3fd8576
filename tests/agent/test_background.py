"""ragagent.core.background: loops kept running through the app's lifespan end with it."""

from __future__ import annotations

import asyncio

import pytest

from ragagent.core import background, errors


async def test_a_refresh_that_turns_the_cancel_into_an_error_still_stops() -> None:
    started = asyncio.Event()

    async def refresh() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            # What a pooled query does when the cancel reaches the driver as a failed query.
            raise errors.DatabaseUnavailable("database unreachable, retry later") from None

    loop = background.refresh_forever(refresh, interval=60, what="a gauge")
    async with asyncio.timeout(10):  # before the fix: asleep until the next round, for good
        async with background.running(loop, name="gauge"):
            await started.wait()


async def test_a_loop_that_swallows_one_cancel_is_cancelled_again() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed > 1:
                    raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await background.stop(task)
    assert task.cancelled()
    assert swallowed == 2


async def test_a_failed_refresh_is_retried_at_the_next_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0
    third = asyncio.Event()

    async def refresh() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise errors.DatabaseUnavailable("database unreachable, retry later")
        if calls == 3:
            third.set()

    loop = background.refresh_forever(refresh, interval=0.01, what="a gauge")
    async with asyncio.timeout(10), background.running(loop, name="gauge"):
        await third.wait()
    assert "a gauge not refreshed, retrying later: database unreachable" in caplog.text
