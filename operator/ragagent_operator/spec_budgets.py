"""The RagAgent's ``budgets`` section: LLM token limits and the prices usage is costed at.

The defaults are the agent's own (``BudgetSettings``), so the CRD and the agent cannot
disagree about what an unset field means. The per-identity daily limit is the agent's
``rate_limit_tokens_per_day``, which ``rateLimit.tokensPerDay`` has set so far: an unset
``identityDailyTokens`` keeps that value, so existing RagAgents keep their limit.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ragagent.core.budget_settings import BudgetSettings
from ragagent_operator import spec_base

_AGENT = BudgetSettings.model_fields
MAX_PRICES = 64
# No "=", "," or blank: the agent reads prices as "model=in/out,...".
MODEL_NAME = r"^[^=,\s]+$"


class Price(spec_base.ApiModel):
    model: str = Field(
        description="Model name as the LLM provider reports it, e.g. gpt-4o-mini.",
        min_length=1,
        max_length=256,
        pattern=MODEL_NAME,
        json_schema_extra={"pattern": MODEL_NAME},
    )
    # Named aliases: the camel-case generator would write inputPer1K.
    input_per_1k: float = Field(
        alias="inputPer1k",
        description="Cost of 1,000 prompt tokens, in the currency usage is reported in.",
        ge=0,
        le=1_000_000,
    )
    output_per_1k: float = Field(
        alias="outputPer1k",
        description="Cost of 1,000 completion tokens, in the same currency.",
        ge=0,
        le=1_000_000,
    )


class Budgets(spec_base.ApiModel):
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "!has(self.prices) || "
            "self.prices.all(p, self.prices.exists_one(q, q.model == p.model))",
            "budgets.prices names each model once",
        ),
    ]
    identity_daily_tokens: int | None = Field(
        None,
        ge=0,
        description="LLM tokens one caller (API key, token subject or anonymous address) may "
        "spend per UTC day; 0 means no limit. Unset keeps rateLimit.tokensPerDay.",
    )
    agent_monthly_tokens: int = Field(
        _AGENT["budget_agent_tokens_per_month"].default,
        ge=0,
        description="LLM tokens the whole agent may spend per UTC calendar month, every "
        "caller together; 0 means no limit.",
    )
    prices: list[Price] = Field(
        default_factory=list,
        json_schema_extra={"maxItems": MAX_PRICES},
        description="Prices per 1,000 tokens by model, for the cost in GET /v1/usage and the "
        "ragagent_llm_cost_total metric; models without a price cost 0.",
    )


def build_price_list(budgets: Budgets) -> list[str]:
    """``budgets.prices`` as the agent reads them: ``model=input/output``."""
    return [
        f"{p.model}={_decimal(p.input_per_1k)}/{_decimal(p.output_per_1k)}" for p in budgets.prices
    ]


def _decimal(value: float) -> str:
    # Never an exponent: the agent accepts plain decimals only (1e-05 would be refused).
    return f"{value:.10f}".rstrip("0").rstrip(".") or "0"
