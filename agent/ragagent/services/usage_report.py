"""The month's usage report: what ``ragagent usage --report`` prints and leaves as the
usage Job's termination message, which the operator turns into ``status.usage`` and the
``BudgetExceeded`` condition.

One compact JSON line of fixed fields (never a list of identities or models), so it
always fits the kubelet's 4096 bytes and says nothing about who spent what: the status is
readable by everyone who may read the RagAgent, usage per identity is for admins
(``GET /v1/usage``).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from ragagent.db import token_month
from ragagent.services import budget

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragagent.core.budget_settings import Price
    from ragagent.core.config import Settings
    from ragagent.core.db import Database

# Reservations this long past their expiry are deleted: a turn that outlives its
# reservation (a very slow stream) may still settle it, which then finds no row, harmlessly.
SWEEP_GRACE_SECONDS = 3600.0


def build_report(
    months: Sequence[token_month.ModelMonth],
    *,
    prices: dict[str, Price],
    limit: int,
    month: date,
    swept: int,
) -> dict[str, Any]:
    """The report of ``month`` (its first day): tokens, cost at ``prices``, the monthly
    ``limit`` (0: none) with the fraction of it spent, and when the month resets."""
    tokens_in = sum(m.tokens_in for m in months)
    tokens_out = sum(m.tokens_out for m in months)
    cost = sum(prices[m.model].cost(m.tokens_in, m.tokens_out) for m in months if m.model in prices)
    report: dict[str, Any] = {
        "result": "succeeded",
        "period": month.strftime("%Y-%m"),
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cost": round(cost, 6),
        "limit": limit,
        "resets_at": _stamp(budget.resets_at("agent-monthly", month)),
        "swept": swept,
    }
    if limit:
        report["fraction"] = round((tokens_in + tokens_out) / limit, 4)
    return report


def build_line(report: dict[str, Any]) -> str:
    return json.dumps(report, separators=(",", ":"), sort_keys=True)


async def make_report(db: Database, settings: Settings, now: datetime) -> dict[str, Any]:
    """Sweep long-expired reservations, then report the month of ``now`` (UTC)."""
    swept = await token_month.sweep_reservations(db, grace_seconds=SWEEP_GRACE_SECONDS)
    month = now.astimezone(UTC).date().replace(day=1)
    months = await token_month.list_month_by_model(db, month)
    limit = settings.budget_agent_tokens_per_month
    return build_report(months, prices=settings.prices(), limit=limit, month=month, swept=swept)


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
