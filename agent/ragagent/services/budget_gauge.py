"""The gauges of the agent-monthly budget: tokens spent this UTC month, and the limit.

The 80 % and 100 % alerts read them. The month's total is one primary-key lookup
(``token_months``), made every ``REFRESH_SECONDS`` in the background, never per scrape
or per request, and there is no identity label: the cost and the cardinality stay flat
however many callers there are.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ragagent.core import background
from ragagent.core.metrics import BUDGET_MONTH_LIMIT, BUDGET_MONTH_USED
from ragagent.db import token_month

if TYPE_CHECKING:
    from ragagent.core.db import Database

REFRESH_SECONDS = 60.0


async def refresh_month(db: Database, limit: int, now: datetime | None = None) -> int:
    """Read the month's settled tokens (the month of ``now``, default the current UTC one)
    and set both gauges; returns the tokens."""
    month = (now or datetime.now(UTC)).astimezone(UTC).date().replace(day=1)
    used = await token_month.read_month_used(db, month)
    BUDGET_MONTH_USED.set(used)
    BUDGET_MONTH_LIMIT.set(limit)
    return used


@contextlib.asynccontextmanager
async def month_gauge(
    db: Database, limit: int, *, interval: float = REFRESH_SECONDS
) -> AsyncIterator[None]:
    """Keep the gauges fresh while the block runs (the app's lifespan)."""
    loop = background.refresh_forever(
        lambda: refresh_month(db, limit), interval=interval, what="the month's token usage"
    )
    async with background.running(loop, name="ragagent-budget-month"):
        yield
