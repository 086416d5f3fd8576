"""Pure render tests for spec.budgets: the limits and prices reach the agent's settings,
and an unset section means what the agent's defaults (and rateLimit.tokensPerDay) mean."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragagent_operator import spec_budgets
from ragagent_operator.render import configmap
from tests.operator.render.test_render_ratelimit import make_agent

DAILY = "RAGAGENT_RATE_LIMIT_TOKENS_PER_DAY"
MONTHLY = "RAGAGENT_BUDGET_AGENT_TOKENS_PER_MONTH"
PRICES = "RAGAGENT_BUDGET_PRICES"


def test_an_unset_section_keeps_the_rate_limit_day_budget_and_no_monthly_one() -> None:
    data = configmap.build_config_map(make_agent(rateLimit={"tokensPerDay": 5000}))["data"]
    assert (data[DAILY], data[MONTHLY]) == ("5000", "0")
    assert PRICES not in data


def test_identity_daily_tokens_wins_over_the_rate_limit_field() -> None:
    agent = make_agent(rateLimit={"tokensPerDay": 5000}, budgets={"identityDailyTokens": 0})
    assert configmap.build_config_map(agent)["data"][DAILY] == "0"


def test_budgets_and_prices_are_rendered_as_the_agent_reads_them() -> None:
    prices = [
        {"model": "gpt-4o-mini", "inputPer1k": 0.00015, "outputPer1k": 0.0006},
        {"model": "big", "inputPer1k": 2, "outputPer1k": 10.5},
    ]
    agent = make_agent(budgets={"agentMonthlyTokens": 9_000_000, "prices": prices})
    data = configmap.build_config_map(agent)["data"]
    assert data[MONTHLY] == "9000000"
    assert data[PRICES] == "gpt-4o-mini=0.00015/0.0006,big=2/10.5"


@pytest.mark.parametrize(
    "price",
    [
        {"model": "a=b", "inputPer1k": 1, "outputPer1k": 1},
        {"model": "a", "inputPer1k": -1, "outputPer1k": 1},
        {"model": "a", "inputPer1k": 1},
    ],
)
def test_a_price_the_agent_could_not_read_is_refused(price: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        spec_budgets.Budgets.model_validate({"prices": [price]})
