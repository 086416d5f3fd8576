"""ragagent.core.admission: chat turns are admitted first come, first served, up to a limit;
a turn that waits too long gets 503 with Retry-After, and shutdown refuses the queue."""

from __future__ import annotations

import asyncio

import pytest

from ragagent.core import admission, background, errors
from ragagent.core.metrics import CHAT_ADMISSIONS, CHAT_TURNS


async def queued(gate: admission.Admission, how_many: int) -> list[asyncio.Task[admission.Slot]]:
    """``how_many`` turns asking for a slot in order, each already waiting in the queue."""
    tasks = []
    for _ in range(how_many):
        tasks.append(asyncio.create_task(gate.acquire()))
        await asyncio.sleep(0)  # one turn of the loop: the task runs up to its wait
        assert gate.waiting == len(tasks)
    return tasks


async def test_waiting_turns_are_admitted_in_the_order_they_came() -> None:
    gate = admission.Admission(limit=1, wait_seconds=30)
    slot = await gate.acquire()
    waiting = await queued(gate, 4)
    order: list[int] = []
    for _ in waiting:
        slot.release()  # a turn ends: exactly one waiter gets its slot
        await asyncio.sleep(0)
        admitted = [n for n, task in enumerate(waiting) if task.done() and n not in order]
        assert len(admitted) == 1
        order += admitted
        slot = waiting[admitted[0]].result()
    slot.release()
    assert order == [0, 1, 2, 3]
    assert (gate.running, gate.waiting) == (0, 0)


async def test_a_new_turn_does_not_overtake_the_queue() -> None:
    gate = admission.Admission(limit=1, wait_seconds=30)
    slot = await gate.acquire()
    [early] = await queued(gate, 1)
    slot.release()  # the slot goes to the waiting turn, not to one that comes right now
    late = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    assert early.done()
    assert not late.done()
    early.result().release()
    (await late).release()
    assert (gate.running, gate.waiting) == (0, 0)


async def test_a_turn_that_waits_past_the_bound_gets_503_with_retry_after() -> None:
    gate = admission.Admission(limit=1, wait_seconds=0.05)
    rejected = CHAT_ADMISSIONS.labels("rejected")._value.get()
    slot = await gate.acquire()
    with pytest.raises(errors.ServiceUnavailable) as refused:
        await gate.acquire()
    assert refused.value.status_code == 503
    assert int(refused.value.headers["Retry-After"]) >= 1
    assert "0.05 s" in refused.value.detail
    assert CHAT_ADMISSIONS.labels("rejected")._value.get() == rejected + 1
    assert gate.waiting == 0  # the one that gave up left the queue
    slot.release()
    (await gate.acquire()).release()  # and its place was not lost
    assert gate.running == 0


async def test_a_slot_handed_over_as_the_wait_ends_is_passed_on() -> None:
    gate = admission.Admission(limit=1, wait_seconds=30)
    slot = await gate.acquire()
    [first, second] = await queued(gate, 2)
    slot.release()  # handed to the first waiter, which is cancelled before it runs
    first.cancel()
    assert (await second) is not None
    assert gate.running == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_shutdown_refuses_the_queued_turns_and_new_ones() -> None:
    gate = admission.Admission(limit=1, wait_seconds=30)
    slot = await gate.acquire()
    waiting = await queued(gate, 3)
    gate.close()
    for task in waiting:
        with pytest.raises(errors.ServiceUnavailable, match="shutting down"):
            await task
    with pytest.raises(errors.ServiceUnavailable, match="shutting down"):
        await gate.acquire()
    slot.release()  # the turn that was running ends as before
    assert (gate.running, gate.waiting) == (0, 0)


async def test_a_slot_released_twice_frees_one_place_and_the_gauges_follow() -> None:
    gate = admission.Admission(limit=1, wait_seconds=30)
    slot = await gate.acquire()
    [waiter] = await queued(gate, 1)
    assert CHAT_TURNS.labels("waiting")._value.get() == 1
    slot.release()
    slot.release()  # every exit path of a turn may release; only the first counts
    (await waiter).release()
    assert gate.running == 0
    assert CHAT_TURNS.labels("running")._value.get() == 0


async def test_background_tasks_are_awaited_then_cancelled_past_the_bound() -> None:
    tasks = background.Tasks()
    finished: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.01)
        finished.append("quick")

    async def stuck() -> None:
        await asyncio.sleep(3600)
        finished.append("stuck")

    tasks.spawn(quick(), name="quick")
    tasks.spawn(stuck(), name="stuck")
    async with asyncio.timeout(30):
        await tasks.join(0.5)
    assert finished == ["quick"]
    assert len(tasks) == 0
