"""A small circuit breaker for the LLM provider.

While the provider is down, every chat request would otherwise wait through
timeouts and retries before failing. The breaker counts consecutive failures;
once ``failure_threshold`` is reached it opens and callers fail fast for
``cooldown_seconds``. Then it half-opens: exactly one trial call goes through,
and its outcome closes the breaker again or re-opens it for another cooldown.

Pure and synchronous (the clock is injectable), so it is trivially testable and
safe to share between coroutines on one event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    failure_threshold: int = 5
    cooldown_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _failures: int = field(default=0, init=False)
    _opened_at: float | None = field(default=None, init=False)
    _trial_in_flight: bool = field(default=False, init=False)

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at >= self.cooldown_seconds:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may proceed now; in half-open state only one trial call may."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def retry_after(self) -> int:
        """Whole seconds until the breaker lets a trial call through (at least 1)."""
        if self._opened_at is None:
            return 1
        remaining = self.cooldown_seconds - (self.clock() - self._opened_at)
        return max(1, math.ceil(remaining))

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        """Count a failure; a failed trial call re-opens the breaker at once."""
        self._failures += 1
        if self._trial_in_flight or self._failures >= self.failure_threshold:
            self._opened_at = self.clock()
        self._trial_in_flight = False
