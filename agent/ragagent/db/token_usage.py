"""LLM tokens per identity, UTC day and model, and the reservations the budgets count.

A turn reserves its estimate before it calls the LLM (``reserve``) and settles what it
really spent when it ends (``settle``). ``reserve`` runs in one transaction that first
locks the identity's row of the day (and the agent's row of the month when there is a
monthly limit) through an upsert, then sums what is settled and still reserved: under READ
COMMITTED that sum is a new statement, so it sees every reservation committed by the
transactions that held the lock before. Concurrent turns of one identity so queue for a
few milliseconds and never together reserve more than the limit. Locks are always taken
day first, then month, in ``reserve`` and ``settle`` alike, so they cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, NamedTuple

from ragagent.core.db import Connection, Database

BudgetName = Literal["identity-daily", "agent-monthly"]

_LOCK_DAY = """
INSERT INTO token_days (identity, day) VALUES (%(identity)s, (now() AT TIME ZONE 'UTC')::date)
ON CONFLICT (identity, day) DO UPDATE SET used = token_days.used
RETURNING day, used
"""
_LOCK_MONTH = """
INSERT INTO token_months (month) VALUES (%(month)s)
ON CONFLICT (month) DO UPDATE SET used = token_months.used
RETURNING used
"""
_DAY_RESERVED = """
SELECT coalesce(sum(tokens), 0) AS reserved FROM token_reservations
WHERE identity = %(identity)s AND day = %(day)s AND expires_at > now()
"""
_MONTH_RESERVED = """
SELECT coalesce(sum(tokens), 0) AS reserved FROM token_reservations
WHERE month = %(month)s AND expires_at > now()
"""
_INSERT = """
INSERT INTO token_reservations (identity, day, month, tokens, expires_at)
VALUES (%(identity)s, %(day)s, %(month)s, %(tokens)s, now() + make_interval(secs => %(ttl)s))
RETURNING id
"""
_RELEASE = "DELETE FROM token_reservations WHERE id = %(id)s"
_ADD_DAY = """
INSERT INTO token_days AS d (identity, day, used) VALUES (%(identity)s, %(day)s, %(total)s)
ON CONFLICT (identity, day) DO UPDATE SET used = d.used + EXCLUDED.used
"""
_ADD_MONTH = """
INSERT INTO token_months AS m (month, used) VALUES (%(month)s, %(total)s)
ON CONFLICT (month) DO UPDATE SET used = m.used + EXCLUDED.used
"""
_ADD_MODEL = """
INSERT INTO token_usage AS u (identity, day, model, tokens_in, tokens_out)
VALUES (%(identity)s, %(day)s, %(model)s, %(tokens_in)s, %(tokens_out)s)
ON CONFLICT (identity, day, model) DO UPDATE
SET tokens_in = u.tokens_in + EXCLUDED.tokens_in, tokens_out = u.tokens_out + EXCLUDED.tokens_out
"""
_LIST = """
SELECT identity, day, model, tokens_in, tokens_out FROM token_usage
WHERE (%(identity)s::text IS NULL OR identity = %(identity)s)
  AND day >= %(since)s AND day <= %(until)s
ORDER BY day, identity, model
LIMIT %(limit)s
"""


class Limits(NamedTuple):
    """Token limits a reservation must fit; 0 means no limit. A plain pair of numbers."""

    identity_daily: int
    agent_monthly: int


@dataclass(frozen=True)
class Reserved:
    """Tokens set aside for one turn; ``id`` is None when no limit needed a reservation."""

    id: int | None
    identity: str
    day: date
    tokens: int

    @property
    def month(self) -> date:
        return self.day.replace(day=1)


@dataclass(frozen=True)
class Refused:
    """The budget the estimate did not fit, on the (UTC) day it was asked."""

    budget: BudgetName
    day: date


async def _one(conn: Connection, query: str, params: dict[str, Any]) -> dict[str, Any]:
    cursor = await conn.execute(query, params)
    row = await cursor.fetchone()
    assert row is not None, "an upsert or aggregate always returns its row"
    return dict(row)


async def reserve(
    db: Database, *, identity: str, tokens: int, limits: Limits, ttl_seconds: float
) -> Reserved | Refused:
    """Set ``tokens`` aside for ``identity`` when they fit both limits; else which did not."""
    async with db.connection() as conn:  # the pool's connection is one transaction
        params: dict[str, Any] = {"identity": identity, "tokens": tokens, "ttl": ttl_seconds}
        day_row = await _one(conn, _LOCK_DAY, params)
        params |= {"day": day_row["day"], "month": day_row["day"].replace(day=1)}
        month_used = 0
        if limits.agent_monthly:
            month_used = int((await _one(conn, _LOCK_MONTH, params))["used"])
        if limits.identity_daily:
            reserved = int((await _one(conn, _DAY_RESERVED, params))["reserved"])
            if int(day_row["used"]) + reserved + tokens > limits.identity_daily:
                return Refused("identity-daily", params["day"])
        if limits.agent_monthly:
            reserved = int((await _one(conn, _MONTH_RESERVED, params))["reserved"])
            if month_used + reserved + tokens > limits.agent_monthly:
                return Refused("agent-monthly", params["day"])
        row = await _one(conn, _INSERT, params)
    return Reserved(int(row["id"]), identity, params["day"], tokens)


async def settle(
    db: Database,
    reserved: Reserved,
    *,
    spent: Mapping[str, tuple[int, int]],
    release: bool = True,
) -> None:
    """Add what was really spent (tokens in and out by model) on the reservation's day,
    and with ``release`` drop the reservation."""
    base = {
        "id": reserved.id,
        "identity": reserved.identity,
        "day": reserved.day,
        "month": reserved.month,
        "total": sum(tokens_in + tokens_out for tokens_in, tokens_out in spent.values()),
    }
    async with db.connection() as conn:  # the pool's connection is one transaction
        # Day before month, as in reserve: the same lock order everywhere.
        await conn.execute(_ADD_DAY, base)
        await conn.execute(_ADD_MONTH, base)
        for model, (tokens_in, tokens_out) in sorted(spent.items()):
            params = base | {"model": model, "tokens_in": tokens_in, "tokens_out": tokens_out}
            await conn.execute(_ADD_MODEL, params)
        if release and reserved.id is not None:
            await conn.execute(_RELEASE, base)


@dataclass(frozen=True)
class UsageRow:
    """One identity's tokens in and out on one UTC day with one model, as recorded."""

    identity: str
    day: date
    model: str
    tokens_in: int
    tokens_out: int


async def list_usage(
    db: Database, *, identity: str | None, since: date, until: date, limit: int = 10_000
) -> list[UsageRow]:
    """Usage rows from ``since`` to ``until`` (both included), oldest first."""
    params = {"identity": identity, "since": since, "until": until, "limit": limit}
    async with db.connection() as conn:
        cursor = await conn.execute(_LIST, params)
        rows = await cursor.fetchall()
    return [UsageRow(**row) for row in rows]
