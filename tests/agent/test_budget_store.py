"""Token reservations on the real database: concurrent turns, both budgets, settling.

Each ``Budget`` stands for one replica; concurrent reservations go through separate pool
connections, as concurrent requests do.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from ragagent.core import errors
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import token_usage
from ragagent.rag.types import Usage
from ragagent.services import budget as budgets

pytestmark = pytest.mark.db


def replica(db: Database, settings: Settings, *, daily: int, monthly: int = 0) -> budgets.Budget:
    limited = settings.model_copy(
        update={"rate_limit_tokens_per_day": daily, "budget_agent_tokens_per_month": monthly}
    )
    return budgets.Budget(db=db, settings=limited)


async def spend(budget: budgets.Budget, who: str, tokens_in: int, tokens_out: int) -> None:
    charge = await budget.reserve(who, tokens_in + tokens_out)
    charge.add("m", Usage(tokens_in, tokens_out))
    await charge.settle()


async def try_reserve(budget: budgets.Budget, who: str, tokens: int) -> str:
    try:
        await budget.reserve(who, tokens)
    except errors.BudgetExceeded as exc:
        return str(exc.extensions["budget"])
    return "reserved"


async def test_a_burst_against_a_nearly_spent_budget_lets_through_only_what_fits(
    db: Database, pg_settings: Settings
) -> None:
    first, second = (replica(db, pg_settings, daily=1000) for _ in range(2))
    await spend(first, "jwt:ivy", 600, 100)  # 300 left: room for three reservations of 100
    outcomes = await asyncio.gather(
        *(try_reserve((first, second)[n % 2], "jwt:ivy", 100) for n in range(12))
    )
    assert outcomes.count("reserved") == 3
    assert set(outcomes) == {"reserved", "identity-daily"}
    assert await try_reserve(first, "jwt:other", 1000) == "reserved"  # per identity


async def test_settling_frees_the_reservation_and_charges_what_was_spent(
    db: Database, pg_settings: Settings
) -> None:
    budget = replica(db, pg_settings, daily=1000)
    charge = await budget.reserve("jwt:jo", 900)
    assert await try_reserve(budget, "jwt:jo", 200) == "identity-daily"
    charge.add("gpt-x", Usage(120, 30))
    charge.add("gpt-x", Usage(10, 5))
    await charge.settle()
    await charge.settle()  # every exit path may settle; only the first counts
    assert await try_reserve(budget, "jwt:jo", 800) == "reserved"
    today = datetime.now(UTC).date()
    rows = await token_usage.list_usage(db, identity="jwt:jo", since=today, until=today)
    assert rows == [token_usage.UsageRow("jwt:jo", today, "gpt-x", 130, 35)]


async def test_the_agent_monthly_budget_counts_every_identity_together(
    db: Database, pg_settings: Settings
) -> None:
    budget = replica(db, pg_settings, daily=0, monthly=500)
    await spend(budget, "jwt:a", 200, 100)
    await spend(budget, "jwt:b", 100, 50)
    assert await try_reserve(budget, "jwt:c", 100) == "agent-monthly"
    assert await try_reserve(budget, "jwt:c", 50) == "reserved"


async def test_a_reservation_never_settled_stops_counting_once_it_expires(
    db: Database, pg_settings: Settings
) -> None:
    short = pg_settings.model_copy(
        update={"rate_limit_tokens_per_day": 100, "budget_reservation_seconds": 0.2}
    )
    budget = budgets.Budget(db=db, settings=short)
    await budget.reserve("jwt:crashed", 100)  # its process "dies": nobody settles it
    assert await try_reserve(budget, "jwt:crashed", 100) == "identity-daily"
    await asyncio.sleep(0.3)
    assert await try_reserve(budget, "jwt:crashed", 100) == "reserved"


async def test_a_refusal_names_the_budget_and_when_it_resets(
    db: Database, pg_settings: Settings
) -> None:
    budget = replica(db, pg_settings, daily=10)
    with pytest.raises(errors.BudgetExceeded) as refused:
        await budget.reserve("jwt:kim", 11)
    tomorrow = (
        datetime.combine(datetime.now(UTC).date(), datetime.min.time(), tzinfo=UTC).timestamp()
        + 86_400
    )
    assert refused.value.extensions["budget"] == "identity-daily"
    reset = datetime.fromisoformat(refused.value.extensions["resets_at"])
    assert reset.timestamp() == tomorrow
    assert 1 <= refused.value.retry_after <= 86_400


def test_a_monthly_budget_resets_on_the_first_of_the_next_month() -> None:
    assert budgets.resets_at("agent-monthly", date(2026, 12, 31)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )
    assert budgets.resets_at("agent-monthly", date(2026, 2, 1)) == datetime(2026, 3, 1, tzinfo=UTC)
    assert budgets.resets_at("identity-daily", date(2026, 2, 28)) == datetime(
        2026, 3, 1, tzinfo=UTC
    )


def test_prices_per_1k_tokens_turn_tokens_into_cost(pg_settings: Settings) -> None:
    priced = pg_settings.model_copy(update={"budget_prices": ["gpt-x=0.5/1.5"]})
    assert priced.prices()["gpt-x"].cost(2000, 1000) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="budget_prices"):
        Settings(**{**pg_settings.model_dump(), "budget_prices": "gpt-x=cheap"})
