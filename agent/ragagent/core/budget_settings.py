"""The agent's settings for LLM token budgets beyond the per-identity day, and prices.

A part of ``config.Settings`` (one of its base classes). The per-identity daily limit
keeps its older name, ``rate_limit_tokens_per_day`` (``RateLimitSettings``). Import-light
like ``config``: the operator's image imports it without the agent's dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode

from ragagent.core.env_lists import split_csv

_NUMBER = r"\d+(\.\d+)?"
PriceList = Annotated[
    list[Annotated[str, Field(pattern=rf"^[^=,\s]+={_NUMBER}/{_NUMBER}$")]],
    NoDecode,
    BeforeValidator(split_csv),
]


@dataclass(frozen=True)
class Price:
    """What 1,000 tokens of a model cost, in and out, in the operator's currency."""

    input_per_1k: float
    output_per_1k: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_1k + tokens_out * self.output_per_1k) / 1000


class BudgetSettings(BaseSettings):
    """The agent-wide monthly token limit, what reservations last, and model prices."""

    budget_agent_tokens_per_month: int = Field(
        0,
        ge=0,
        description="LLM tokens the whole agent may spend per UTC calendar month, every "
        "identity together; 0 means no monthly limit.",
    )
    budget_reservation_seconds: float = Field(
        900.0,
        gt=0,
        le=86_400,
        description="Seconds a turn's token reservation counts against the budgets when the "
        "turn never settles it (its process died); a turn that ends settles it at once.",
    )
    budget_prices: PriceList = Field(
        default_factory=list,
        description="Prices per 1,000 tokens by model, input/output: "
        "'gpt-4o-mini=0.15/0.6,other=1/2'. Models without a price cost 0.",
    )

    def prices(self) -> dict[str, Price]:
        """``budget_prices`` by model name."""
        parsed: dict[str, Price] = {}
        for entry in self.budget_prices:
            model, _, pair = entry.partition("=")
            per_in, _, per_out = pair.partition("/")
            parsed[model] = Price(float(per_in), float(per_out))
        return parsed
