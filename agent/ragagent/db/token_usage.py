"""LLM tokens per identity, UTC day and model, and the reservations the budgets count.

A turn reserves its estimate before it calls the LLM (``reserve``) and settles what it
really spent when it ends (``settle``). Each is one call of a PL/pgSQL function (migration
0013) that first locks the identity's row of the day (and the agent's row of the month when
there is a monthly limit) through an upsert, then sums what is settled and still reserved:
under READ COMMITTED each statement of the function takes a new snapshot, so the sum sees
every reservation committed by the transactions that held the lock before. Concurrent
turns of one identity so queue for a few milliseconds and never together reserve more than
the limit. Locks are always taken day first, then month, so they cannot deadlock. The call
and its COMMIT go to the server in one flight (``_call_and_commit``): the shared rows stay
locked only while the server runs the function, never while the agent's event loop is
busy with other turns.

The ``*_on`` variants run on a connection the caller already holds (a chat turn reads its
history and reserves on one connection), committing what it did on it before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, NamedTuple

from ragagent.core.db import Connection, Database

BudgetName = Literal["identity-daily", "agent-monthly"]
# Tokens in and out by model.
Spent = Mapping[str, tuple[int, int]]

# One statement each (migration 0013), so the shared rows are locked only while the
# server runs it; see that migration for why a plain statement could not do it.
_RESERVE = """
SELECT reservation_id, reserved_day, refused FROM token_reserve(
    %(identity)s::text, %(tokens)s::bigint, %(daily)s::bigint, %(monthly)s::bigint,
    %(ttl)s::double precision)
"""
_SETTLE = """
SELECT token_settle(%(id)s::bigint, %(identity)s::text, %(day)s::date,
    %(models)s::text[], %(tokens_in)s::bigint[], %(tokens_out)s::bigint[], %(release)s)
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


async def _call_and_commit(
    conn: Connection, query: str, params: dict[str, Any]
) -> dict[str, Any] | None:
    """Run ``query`` and COMMIT in one pipelined flight; the query's row, if any."""
    async with conn.pipeline():
        cursor = await conn.execute(query, params)
        await conn.commit()
    row = await cursor.fetchone()
    return None if row is None else dict(row)


async def reserve(
    db: Database, *, identity: str, tokens: int, limits: Limits, ttl_seconds: float
) -> Reserved | Refused:
    """Set ``tokens`` aside for ``identity`` when they fit both limits; else which did not."""
    async with db.connection() as conn:
        return await reserve_on(
            conn, identity=identity, tokens=tokens, limits=limits, ttl_seconds=ttl_seconds
        )


async def reserve_on(
    conn: Connection, *, identity: str, tokens: int, limits: Limits, ttl_seconds: float
) -> Reserved | Refused:
    """``reserve`` on a held connection; commits its open transaction too."""
    params = {
        "identity": identity,
        "tokens": tokens,
        "daily": limits.identity_daily,
        "monthly": limits.agent_monthly,
        "ttl": ttl_seconds,
    }
    row = await _call_and_commit(conn, _RESERVE, params)
    assert row is not None, "token_reserve always returns one row"
    day: date = row["reserved_day"]
    if row["refused"] is not None:
        return Refused(row["refused"], day)
    return Reserved(int(row["reservation_id"]), identity, day, tokens)


async def settle(
    db: Database,
    reserved: Reserved,
    *,
    spent: Spent,
    release: bool = True,
) -> None:
    """Add what was really spent (tokens in and out by model) on the reservation's day,
    and with ``release`` drop the reservation."""
    async with db.connection() as conn:
        await settle_on(conn, reserved, spent, release)


async def settle_on(conn: Connection, reserved: Reserved, spent: Spent, release: bool) -> None:
    """``settle`` on a held connection; commits its open transaction too."""
    models = sorted(spent)
    params = {
        "id": reserved.id if release else None,
        "identity": reserved.identity,
        "day": reserved.day,
        "models": models,
        "tokens_in": [spent[model][0] for model in models],
        "tokens_out": [spent[model][1] for model in models],
        "release": release,
    }
    await _call_and_commit(conn, _SETTLE, params)


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
