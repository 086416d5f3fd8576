"""LLM token usage for admins: ``GET /v1/usage``.

Tokens in and out per identity, UTC day and model, as the chat turns settled them
(``services.budget``), with their cost at ``RAGAGENT_BUDGET_PRICES``. Filter by identity
(a principal id as ``/v1/users/{id}`` takes it, or ``ip:<address>`` for anonymous
callers) and by a period of UTC days, both ends included: by default the current month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ragagent.api.deps import AdminUser, StateDep
from ragagent.core import errors
from ragagent.services import budget

router = APIRouter(prefix="/v1/usage", tags=["usage"])

MAX_DAYS = 366


class UsagePublic(BaseModel):
    since: date
    until: date
    tokens_in: int
    tokens_out: int
    cost: float
    # The service's rows as they are (a frozen dataclass pydantic validates and serializes):
    # one definition of a usage row for the API, the CLI and the database.
    rows: list[budget.UsageTotal]


def build_period(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """The days asked for; the current UTC month so far when neither end is given."""
    until = until or today
    since = since or until.replace(day=1)
    if since > until:
        raise errors.ValidationFailed("since must not be after until")
    if until - since > timedelta(days=MAX_DAYS):
        raise errors.ValidationFailed(f"a period is at most {MAX_DAYS} days")
    return since, until


@router.get("", response_model=UsagePublic, summary="LLM token usage and cost")
async def get_usage(
    state: StateDep,
    _: AdminUser,
    identity: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    since: Annotated[date | None, Query(description="First UTC day, included.")] = None,
    until: Annotated[date | None, Query(description="Last UTC day, included.")] = None,
) -> UsagePublic:
    since, until = build_period(since, until, datetime.now(UTC).date())
    rows = await budget.list_usage(
        state.db, state.settings, identity=identity, since=since, until=until
    )
    return UsagePublic(
        since=since,
        until=until,
        tokens_in=sum(row.tokens_in for row in rows),
        tokens_out=sum(row.tokens_out for row in rows),
        cost=sum(row.cost for row in rows),
        rows=rows,
    )
