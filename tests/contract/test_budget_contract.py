"""spec.budgets through the shared env contract: what the operator renders, the agent reads
back as the same limits and prices."""

from __future__ import annotations

import pytest

from ragagent.core.budget_settings import Price
from ragagent.core.config import load_settings
from ragagent_operator.render import configmap
from tests.operator.render.test_render_ratelimit import make_agent


def test_rendered_budgets_load_as_the_agents_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    budgets = {
        "identityDailyTokens": 40_000,
        "agentMonthlyTokens": 3_000_000,
        "prices": [
            {"model": "gpt-4o-mini", "inputPer1k": 0.00000015, "outputPer1k": 0.0006},
            {"model": "local/llama-3", "inputPer1k": 0, "outputPer1k": 0},
        ],
    }
    data = configmap.build_config_map(make_agent(budgets=budgets))["data"]
    for name, value in data.items():
        monkeypatch.setenv(name, value)
    # The rendered pod is a production one, whose secret and database come from Secrets the
    # pod contract covers; here only the budget fields are read back.
    monkeypatch.setenv("RAGAGENT_ENVIRONMENT", "development")
    settings = load_settings()
    assert settings.rate_limit_tokens_per_day == 40_000
    assert settings.budget_agent_tokens_per_month == 3_000_000
    assert settings.prices() == {
        "gpt-4o-mini": Price(0.00000015, 0.0006),
        "local/llama-3": Price(0.0, 0.0),
    }
