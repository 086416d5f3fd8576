"""The agent's tokens of one UTC month, and the sweep of reservations long expired.

``db.token_usage`` records and reserves; this module only reads the month's totals (for
``ragagent usage --report``, which the operator turns into ``status.usage``, and for the
``ragagent_budget_month_tokens`` gauge) and deletes reservation rows that stopped counting
long ago. A reservation whose turn never settled (its pod died) is ignored by the budgets
once it expires, but nothing else ever deletes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ragagent.core.db import Database

_BY_MODEL = """
SELECT model, coalesce(sum(tokens_in), 0) AS tokens_in, coalesce(sum(tokens_out), 0) AS tokens_out
FROM token_usage WHERE day >= %(month)s AND day < (%(month)s::date + interval '1 month')::date
GROUP BY model ORDER BY model
"""
# The budgets' own settled total: one primary-key lookup, cheap enough for a gauge.
_USED = "SELECT coalesce(max(used), 0) AS used FROM token_months WHERE month = %(month)s"
# Oldest first, bounded, and SKIP LOCKED so that two sweepers (or a settling turn that
# deletes its own row) never wait on each other: the rows one skips, the next run takes.
_SWEEP = """
WITH gone AS (
    SELECT id FROM token_reservations
    WHERE expires_at < now() - make_interval(secs => %(grace)s)
    ORDER BY id LIMIT %(batch)s FOR UPDATE SKIP LOCKED
)
DELETE FROM token_reservations r USING gone WHERE r.id = gone.id
"""
SWEEP_BATCH = 1000
SWEEP_MAX_BATCHES = 100


@dataclass(frozen=True)
class ModelMonth:
    """One model's tokens in and out over a month, every identity together."""

    model: str
    tokens_in: int
    tokens_out: int


async def list_month_by_model(db: Database, month: date) -> list[ModelMonth]:
    """The month's recorded tokens per model (``month`` is its first day), by model name."""
    async with db.connection() as conn:
        cursor = await conn.execute(_BY_MODEL, {"month": month})
        rows = await cursor.fetchall()
    return [ModelMonth(str(r["model"]), int(r["tokens_in"]), int(r["tokens_out"])) for r in rows]


async def read_month_used(db: Database, month: date) -> int:
    """Settled tokens of the month the agent-monthly budget compares against; 0 for none."""
    return int(await _value(db, _USED, {"month": month}, "used"))


async def sweep_reservations(
    db: Database,
    *,
    grace_seconds: float,
    batch: int = SWEEP_BATCH,
    max_batches: int = SWEEP_MAX_BATCHES,
) -> int:
    """Delete reservations that expired more than ``grace_seconds`` ago; returns how many.

    Each batch is its own short transaction, so a large backlog never holds many row locks
    or one long transaction; at most ``max_batches`` run, the next sweep takes the rest.
    """
    removed = 0
    for _ in range(max_batches):
        async with db.connection() as conn:
            cursor = await conn.execute(_SWEEP, {"grace": grace_seconds, "batch": batch})
            count = cursor.rowcount
        removed += count
        if count < batch:
            break
    return removed


async def _value(db: Database, query: str, params: dict[str, Any], key: str) -> Any:
    async with db.connection() as conn:
        cursor = await conn.execute(query, params)
        row = await cursor.fetchone()
    return (row or {}).get(key, 0)
