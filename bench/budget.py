"""Added latency per chat turn of the token budget: reserve before the LLM call, settle after.

A turn pays ``Budget.reserve`` (one transaction: lock the identity's day row, sum its
live reservations, insert one) and ``Charge.settle`` (one transaction: add to the day
and month totals and the model's row, drop the reservation). Timed one turn after another
(what a turn sees) and with 16 concurrent turns, either on 16 identities or all on one
(which queue on that identity's day row), with and without an agent monthly limit (which
makes every turn lock the one month row too). The database is the embedded one over a
Unix socket, or BENCH_DATABASE_URL.
"""

from __future__ import annotations

import functools

from bench import _report, _timing
from bench._pg import bench_database
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.rag.types import Usage
from ragagent.services.budget import Budget

CLIENTS = 16
# High enough that no turn is refused: the bench measures the cost of an accepted turn.
HUGE = 10**15


async def turn(budget: Budget, who: str) -> None:
    """One accepted turn's budget work: reserve before the LLM call, settle after."""
    charge = await budget.reserve(who, 2_000)
    charge.add("bench-model", Usage(1_500, 300))
    await charge.settle()


async def latencies(budget: Budget, turns: int, identities: list[str]) -> list[float]:
    """Milliseconds per turn, ``turns`` spread over ``identities`` at once."""
    call = functools.partial(turn, budget)
    return await _timing.latencies(call, identities, turns // len(identities))


async def measure(db: Database, settings: Settings, turns: int) -> dict[str, float]:
    numbers: dict[str, float] = {}
    spread = [f"jwt:user-{n}" for n in range(CLIENTS)]
    cases = {"c1": ["jwt:alone"], "c16": spread, "c16_one_identity": ["jwt:shared"] * CLIENTS}
    for monthly in (0, HUGE):
        limited = settings.model_copy(
            update={"rate_limit_tokens_per_day": HUGE, "budget_agent_tokens_per_month": monthly}
        )
        budget = Budget(db=db, settings=limited)
        await latencies(budget, 50, ["jwt:warm"])  # warm the pool and the plans
        label = "monthly" if monthly else "daily"
        for name, identities in cases.items():
            times = await latencies(budget, turns, identities)
            numbers |= _timing.summarize(f"{label}_{name}", times)
    return numbers


async def run(turns: int) -> dict[str, float]:
    settings = Settings(db_pool_max_size=CLIENTS)
    async with bench_database(settings) as db:
        return await measure(db, settings, turns)


def main() -> None:
    _report.main_with_count(
        "budget", __doc__, run, flag="--turns", default=1600, about="Turns per case."
    )


if __name__ == "__main__":
    main()
