"""The ``ragagent_api_keys_expiring`` gauge: active API keys that expire within a week.

Counted by one query every ``REFRESH_SECONDS`` in the background, never per request or
per scrape, so the gauge costs the database a round trip every few minutes however often
Prometheus scrapes and however busy the agent is. One series, no labels: which keys
expire is for ``ragagent apikey list``, not for the metrics.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

from ragagent.core import background
from ragagent.core.metrics import API_KEYS_EXPIRING
from ragagent.db import apikeys

if TYPE_CHECKING:
    from ragagent.core.db import Database

EXPIRY_WINDOW = timedelta(days=7)
REFRESH_SECONDS = 300.0


async def refresh_expiring(db: Database) -> int:
    """Count the keys expiring within ``EXPIRY_WINDOW`` and set the gauge to it."""
    count = await apikeys.count_expiring(db, EXPIRY_WINDOW)
    API_KEYS_EXPIRING.set(count)
    return count


@contextlib.asynccontextmanager
async def expiry_gauge(db: Database, *, interval: float = REFRESH_SECONDS) -> AsyncIterator[None]:
    """Keep the gauge fresh while the block runs (the app's lifespan)."""
    loop = background.refresh_forever(
        lambda: refresh_expiring(db), interval=interval, what="expiring API keys"
    )
    async with background.running(loop, name="ragagent-key-expiry"):
        yield
