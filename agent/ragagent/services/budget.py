"""LLM token budgets: reserve a turn's estimate before the LLM call, settle what it spent.

Two budgets: ``rate_limit_tokens_per_day`` per identity and UTC day, and
``budget_agent_tokens_per_month`` for the whole agent and UTC month (0 = none). A turn
reserves an upper estimate of its tokens (``estimate_turn_tokens``) in one transaction
that also checks both budgets (``db.token_usage.reserve``), so concurrent turns against a
nearly spent budget see each other's reservations and at most what fits goes through.
The turn then settles, however it ends (answered, client gone, LLM error), what it really
spent per model (``Charge.settle``): the tokens recorded for ``GET /v1/usage``, the
Prometheus counters (by model and direction, and cost at ``budget_prices``) and the
budgets' totals.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time as _clock
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from ragagent.core import background, errors
from ragagent.core.metrics import BUDGET_REFUSED, LLM_COST, LLM_TOKENS
from ragagent.db import token_usage
from ragagent.rag.prompts import estimate_tokens
from ragagent.rag.rewrite import MAX_TOKENS as REWRITE_MAX_TOKENS
from ragagent.rag.types import Usage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragagent.core import models
    from ragagent.core.budget_settings import Price
    from ragagent.core.config import Settings
    from ragagent.core.db import Connection, Database
    from ragagent.core.security import Principal


def usage_identity(principal: Principal) -> str:
    """Who tokens are charged to: the principal id (as ``/v1/users/{id}`` names users),
    or ``ip:<address>`` for anonymous callers, who share the one id ``anonymous``."""
    if principal.kind == "anonymous":
        return f"ip:{principal.client_ip or 'unknown'}"
    return principal.id


def estimate_turn_tokens(
    settings: Settings, question: str, history: Sequence[models.ChatTurn]
) -> int:
    """An upper estimate of a turn's tokens, before retrieval: the question and history,
    ``retrieval_top_k`` full chunks, the longest answer, and the follow-up rewrite's call
    (its prompt is the question and history again) when it is on."""
    asked = estimate_tokens(question) + sum(estimate_tokens(turn.content) for turn in history)
    passages = settings.retrieval_top_k * math.ceil(settings.chunk_size / 4)
    rewrite = asked + REWRITE_MAX_TOKENS if settings.followup_rewrite and history else 0
    # Instructions and per-message overhead of the prompt, generously.
    overhead = 200 + 4 * len(history)
    return asked + passages + settings.llm_max_tokens + rewrite + overhead


def resets_at(budget: token_usage.BudgetName, day: date) -> datetime:
    """When a budget refused on ``day`` (UTC) has room again: the next day or month."""
    if budget == "identity-daily":
        start = day + timedelta(days=1)
    else:
        start = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(start, time(), tzinfo=UTC)


def build_refusal(refused: token_usage.Refused, now: datetime) -> errors.BudgetExceeded:
    """The 429 that names the budget and when it resets (Retry-After in seconds)."""
    reset = resets_at(refused.budget, refused.day)
    wait = math.ceil((reset - now).total_seconds())
    return errors.BudgetExceeded(
        budget=refused.budget, resets_at=reset.isoformat().replace("+00:00", "Z"), retry_after=wait
    )


@dataclass
class Charge:
    """One turn's reservation and what it has spent so far, by model.

    ``settle`` is idempotent: the first call records, later ones do nothing, so every
    exit path of a turn may call it.
    """

    budget: Budget
    reserved: token_usage.Reserved
    spent: dict[str, Usage] = field(default_factory=dict)
    settled: bool = False

    def add(self, model: str, usage: Usage) -> None:
        before = self.spent.get(model, Usage())
        self.spent[model] = Usage(
            before.prompt_tokens + usage.prompt_tokens,
            before.completion_tokens + usage.completion_tokens,
        )

    async def record(self) -> None:
        """Record what was spent so far and keep the reservation: tokens spent before the
        answer (the follow-up rewrite) are charged even if the answer never starts."""
        spent, self.spent = self.spent, {}
        if spent:
            await self.budget.settle(self.reserved, spent, release=False)

    async def settle(self, conn: Connection | None = None) -> None:
        """Settle on ``conn`` when given (the turn's last connection), else on a pooled one."""
        if self.settled:
            return
        self.settled = True
        spent, self.spent = self.spent, {}
        try:
            await self.budget.settle(self.reserved, spent, conn=conn)
        except BaseException:
            # Nothing was recorded (one transaction): the charge stays to be settled again,
            # however the call failed (on a held connection a driver error arrives as such).
            self.settled, self.spent = False, spent
            raise

    async def settle_or_retry(self) -> None:
        """Settle now; while the database is unavailable, keep trying in the background
        (every ``SETTLE_RETRY_SECONDS`` for up to ``SETTLE_RETRY_FOR_SECONDS``) instead of
        raising. A turn settles after its answer has gone out (the SSE ``done`` event, the
        WebSocket ``done`` frame): an error then would follow a delivered, stored answer,
        and on a WebSocket be read as the reply to the client's next question."""
        try:
            await self.settle()
        except errors.DatabaseUnavailable:
            log.warning("a turn's tokens are not charged yet (database unavailable); retrying")
            # The lifespan awaits it at shutdown (bounded), so the charge is not lost
            # with the event loop.
            self.budget.tasks.spawn(self._settle_later(), name="settle-retry")

    async def _settle_later(self) -> None:
        deadline = _clock.monotonic() + SETTLE_RETRY_FOR_SECONDS
        while not self.settled:
            await asyncio.sleep(SETTLE_RETRY_SECONDS)
            try:
                await self.settle()
            except errors.DatabaseUnavailable:
                if _clock.monotonic() > deadline:
                    log.error("a turn's tokens were never charged: the database stayed away")
                    return


log = logging.getLogger(__name__)

SETTLE_RETRY_SECONDS = 1.0
SETTLE_RETRY_FOR_SECONDS = 300.0
# How long shutdown waits for settlements still being retried before it cancels them.
SETTLE_AT_SHUTDOWN_SECONDS = 5.0


class Budget:
    """The agent's token budgets on its database; ``main.lifespan`` makes one."""

    def __init__(
        self, *, db: Database, settings: Settings, tasks: background.Tasks | None = None
    ) -> None:
        self.db = db
        # Where settlements retried in the background run; the lifespan joins them.
        self.tasks = tasks if tasks is not None else background.Tasks()
        self.limits = token_usage.Limits(
            identity_daily=settings.rate_limit_tokens_per_day,
            agent_monthly=settings.budget_agent_tokens_per_month,
        )
        self.ttl_seconds = settings.budget_reservation_seconds
        self.prices: dict[str, Price] = settings.prices()

    async def reserve(
        self, identity: str, tokens: int, *, conn: Connection | None = None
    ) -> Charge:
        """Reserve ``tokens`` for ``identity`` (on ``conn`` when given, committing it); raises
        ``errors.BudgetExceeded`` when a budget has no room for them."""
        if conn is None:
            async with self.db.connection() as pooled:
                return await self.reserve(identity, tokens, conn=pooled)
        outcome = await token_usage.reserve_on(
            conn,
            identity=identity,
            tokens=tokens,
            limits=self.limits,
            ttl_seconds=self.ttl_seconds,
        )
        if isinstance(outcome, token_usage.Refused):
            BUDGET_REFUSED.labels(outcome.budget).inc()
            raise build_refusal(outcome, datetime.now(UTC))
        return Charge(self, outcome)

    async def settle(
        self,
        reserved: token_usage.Reserved,
        spent: dict[str, Usage],
        *,
        release: bool = True,
        conn: Connection | None = None,
    ) -> None:
        """Record ``spent`` (on ``conn`` when given, committing it) and, with ``release``,
        drop the reservation; the metrics count it too."""
        pairs = {model: (u.prompt_tokens, u.completion_tokens) for model, u in spent.items()}
        if conn is None:
            await token_usage.settle(self.db, reserved, spent=pairs, release=release)
        else:
            await token_usage.settle_on(conn, reserved, pairs, release)
        for model, (tokens_in, tokens_out) in pairs.items():
            LLM_TOKENS.labels(model, "in").inc(tokens_in)
            LLM_TOKENS.labels(model, "out").inc(tokens_out)
            price = self.prices.get(model)
            if price is not None:
                LLM_COST.labels(model).inc(price.cost(tokens_in, tokens_out))

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float:
        """What the tokens cost at the configured price; 0 for a model without one."""
        price = self.prices.get(model)
        return price.cost(tokens_in, tokens_out) if price else 0.0


@dataclass(frozen=True)
class UsageTotal(token_usage.UsageRow):
    """A recorded row (identity, day, model, tokens) and what it cost at the configured price."""

    cost: float


async def list_usage(
    db: Database, settings: Settings, *, identity: str | None, since: date, until: date
) -> list[UsageTotal]:
    """Recorded usage from ``since`` to ``until`` (UTC days, both included), priced."""
    prices = settings.prices()
    rows = await token_usage.list_usage(db, identity=identity, since=since, until=until)
    return [
        UsageTotal(
            **dataclasses.asdict(row),
            cost=prices[row.model].cost(row.tokens_in, row.tokens_out)
            if row.model in prices
            else 0.0,
        )
        for row in rows
    ]
