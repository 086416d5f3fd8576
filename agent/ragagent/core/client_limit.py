"""A request limit per client address, counted before anyone is authenticated.

Authentication itself costs work (an API-key lookup, a JWT verification), so a flood of
bogus credentials must be refused before it reaches that work. The counters live in this
process's memory on purpose: the limit guards this replica's database pool, and needs no
shared store that could itself be down.
"""

from __future__ import annotations

import math
import time

from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from ragagent.core.metrics import RATE_LIMITED
from ragagent.core.ratelimit import ScopeLimit

SCOPE = "preauth"


class ClientLimiter:
    """``per_minute + burst`` requests in any 60-second window, per client address."""

    def __init__(self, limit: ScopeLimit) -> None:
        self.limit = limit
        self._window = MovingWindowRateLimiter(MemoryStorage())
        self._items = limit.items()

    async def retry_after(self, client: str) -> int | None:
        """Count one request from ``client``; None when allowed, else whole seconds to wait."""
        for item in self._items:
            if not await self._window.hit(item, SCOPE, client):
                RATE_LIMITED.labels(scope=SCOPE, kind="requests").inc()
                stats = await self._window.get_window_stats(item, SCOPE, client)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None
