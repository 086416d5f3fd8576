"""The LLM circuit breaker: closed → open after N failures → half-open after the cooldown."""

from __future__ import annotations

from ragagent.rag.breaker import CircuitBreaker


class FakeClock:
    """A settable monotonic clock, so cooldowns pass without sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, cooldown_seconds=10.0, clock=clock)


def half_open() -> CircuitBreaker:
    """A breaker opened by three failures whose cooldown has just passed."""
    clock = FakeClock()
    breaker = make_breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 10
    return breaker


def test_breaker_stays_closed_below_the_threshold() -> None:
    breaker = make_breaker(FakeClock())
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.allow()


def test_breaker_opens_after_consecutive_failures_and_fails_fast() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    clock.now += 4
    assert breaker.retry_after() == 6


def test_a_success_resets_the_failure_count() -> None:
    breaker = make_breaker(FakeClock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_half_open_breaker_lets_exactly_one_trial_call_through() -> None:
    breaker = half_open()
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow()


def test_successful_trial_call_closes_the_breaker() -> None:
    breaker = half_open()
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow()


def test_failed_trial_call_reopens_for_a_full_cooldown() -> None:
    breaker = half_open()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.retry_after() == 10
