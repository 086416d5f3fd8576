"""The retry of a failed reconcile (``resync.Retries``): its schedule, and a loop that only a
success, a RagAgent gone, a pause or shutdown ends (no cluster; real asyncio tasks)."""

from __future__ import annotations

import asyncio

import pytest

from ragagent_operator import k8s, resync

QUICK = 0.01  # seconds between tries in the loop tests; the schedule is tested on its own


async def always_active() -> bool:
    return True


class Tries:
    """An attempt that fails with each of ``outcomes`` in turn (an exception is raised, a list
    of failed steps returned), then succeeds; it counts its calls."""

    def __init__(self, *outcomes: BaseException | list[str]) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0
        self.done = asyncio.Event()
        self.retried = asyncio.Event()  # a second try has begun

    async def __call__(self) -> list[str]:
        self.calls += 1
        if self.calls >= 2:
            self.retried.set()
        if not self.outcomes:
            self.done.set()
            return []
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def quick_retries() -> resync.Retries:
    return resync.Retries(is_active=always_active, delay=lambda number, elapsed: QUICK)


async def finished(retries: resync.Retries) -> None:
    """Waits (bounded) until no retry loop is left."""
    async with asyncio.timeout(5):
        await asyncio.gather(*retries.tasks.values())
    assert not retries.tasks


def test_the_schedule_doubles_from_half_a_second_to_4_s_and_slows_to_15_s_after_2_minutes() -> None:
    assert [resync.retry_delay(number, 1.0) for number in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]
    assert resync.retry_delay(10_000, 100.0) == 4.0
    assert resync.retry_delay(40, 120.0) == 15.0
    # Every pause in the first 10 s after a failure is short enough for the soak's 10 s bound.
    assert sum(resync.retry_delay(number, 0.0) for number in range(1, 5)) < 10


async def test_an_api_error_or_any_exception_in_a_retry_does_not_drop_it() -> None:
    retries = quick_retries()
    tries = Tries(
        k8s.ApiError(403, "forbidden"), k8s.Unreachable("reset"), KeyError("x"), ["status"]
    )
    retries.schedule("uid-1", "ns/docs", tries, ["secrets"])
    await finished(retries)
    assert tries.done.is_set()
    assert tries.calls == 5  # four failed tries, then the one that succeeded


async def test_a_second_failure_while_a_retry_runs_starts_no_second_retry() -> None:
    retries = quick_retries()
    first, second = Tries(["secrets"]), Tries()
    retries.schedule("uid-1", "ns/docs", first, ["secrets"])
    retries.schedule("uid-1", "ns/docs", second, ["deployment"])
    assert len(retries.tasks) == 1
    await finished(retries)
    assert (first.calls, second.calls) == (2, 0)


async def test_a_paused_replica_stops_retrying() -> None:
    async def paused() -> bool:
        return False

    retries = resync.Retries(is_active=paused, delay=lambda number, elapsed: QUICK)
    tries = Tries(["secrets"])
    retries.schedule("uid-1", "ns/docs", tries, ["secrets"])
    await finished(retries)
    assert tries.calls == 0


@pytest.mark.parametrize("stop", ["forget", "close"])
async def test_a_deleted_ragagent_or_shutdown_cancels_the_retry(stop: str) -> None:
    retries = quick_retries()
    failing = Tries(*[["secrets"]] * 10_000)
    retries.schedule("uid-1", "ns/docs", failing, ["secrets"])
    task = retries.tasks["uid-1"]
    async with asyncio.timeout(5):
        await failing.retried.wait()
    retries.forget("uid-1") if stop == "forget" else retries.close()
    with pytest.raises(asyncio.CancelledError):
        await task
    calls = failing.calls
    await asyncio.sleep(5 * QUICK)
    assert failing.calls == calls
    assert not retries.tasks
