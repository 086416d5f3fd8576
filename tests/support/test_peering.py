"""The test-side reading of kopf peering: which replica is active, which records live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support import peering

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_a_replica_that_started_below_a_live_peer_is_paused_without_a_log_line() -> None:
    # kopf starts it paused and never logs the pause: the e2e check waited for PAUSED and
    # timed out in CI when the lower-priority pod happened to start second.
    assert not peering.is_active("Starting the main handler\nsome other line\n")


def test_the_last_transition_decides() -> None:
    resumed_then_paused = f"x {peering.RESUMED}\ny {peering.PAUSED} [peer]\n"
    assert not peering.is_active(resumed_then_paused)
    assert peering.is_active(resumed_then_paused + f"z {peering.RESUMED}\n")


def test_only_unexpired_records_are_live() -> None:
    def record(seconds_ago: int, priority: int) -> dict[str, object]:
        seen = (NOW - timedelta(seconds=seconds_ago)).isoformat()
        return {"priority": priority, "lastseen": seen, "lifetime": 15}

    body = {"status": {"a": record(5, 7), "b": record(20, 9), "c": record(14, 3)}}
    assert peering.live_priorities(body, NOW) == {"a": 7, "c": 3}
    assert peering.live_priorities(None, NOW) == {}
