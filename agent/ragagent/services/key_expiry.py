"""The ``ragagent_api_keys_expiring`` gauge: active API keys that expire within a week.

Counted by one query every ``REFRESH_SECONDS`` in the background, never per request or
per scrape, so the gauge costs the database a round trip every few minutes however often
Prometheus scrapes and however busy the agent is. One series, no labels: which keys
expire is for ``ragagent apikey list``, not for the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

import psycopg

from ragagent.core import background, errors
from ragagent.core.metrics import API_KEYS_EXPIRING
from ragagent.db import apikeys

if TYPE_CHECKING:
    from ragagent.core.db import Database

log = logging.getLogger(__name__)

EXPIRY_WINDOW = timedelta(days=7)
REFRESH_SECONDS = 300.0


async def refresh_expiring(db: Database) -> int:
    """Count the keys expiring within ``EXPIRY_WINDOW`` and set the gauge to it."""
    count = await apikeys.count_expiring(db, EXPIRY_WINDOW)
    API_KEYS_EXPIRING.set(count)
    return count


async def run_expiry_loop(db: Database, *, interval: float = REFRESH_SECONDS) -> None:
    """Refresh now and then every ``interval`` seconds until cancelled; a failed refresh
    (database down) keeps the last value and is retried at the next interval."""
    while True:
        try:
            await refresh_expiring(db)
        except errors.AgentError as exc:
            log.warning("expiring API keys not counted, retrying later: %s", exc.detail)
        except psycopg.Error as exc:
            log.error("expiring API keys not counted, retrying later: %s", type(exc).__name__)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def expiry_gauge(db: Database, *, interval: float = REFRESH_SECONDS) -> AsyncIterator[None]:
    """Keep the gauge fresh while the block runs (the app's lifespan)."""
    async with background.running(
        run_expiry_loop(db, interval=interval), name="ragagent-key-expiry"
    ):
        yield
