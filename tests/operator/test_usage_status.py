"""status.usage, BudgetExceeded and the 80 % Event from the usage Job's report (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ragagent_operator import conditions
from ragagent_operator.render.common import build_agent
from ragagent_operator.steps.usage_status import (
    build_budget_condition,
    build_crossing_event,
    build_usage,
    build_with_limit,
    is_crossing,
)

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
RESETS = "2027-01-01T00:00:00Z"
REPORT = {
    "result": "succeeded",
    "period": "2026-12",
    "tokens_in": 600,
    "tokens_out": 250,
    "cost": 1.25,
    "limit": 1000,
    "fraction": 0.85,
    "resets_at": RESETS,
    "swept": 0,
}


def usage(fraction: float, period: str = "2026-12") -> dict[str, Any]:
    return {
        "period": period,
        "tokensIn": int(fraction * 1000),
        "tokensOut": 0,
        "fraction": fraction,
    }


def test_the_report_becomes_status_usage_measured_against_the_spec_limit() -> None:
    built = build_usage(REPORT, limit=1000, reported_at="2026-12-04T14:50:00Z")
    assert built == {
        "period": "2026-12",
        "tokensIn": 600,
        "tokensOut": 250,
        "cost": 1.25,
        "resetsAt": RESETS,
        "reportedAt": "2026-12-04T14:50:00Z",
        "monthlyLimit": 1000,
        "fraction": 0.85,
    }
    assert build_usage(REPORT, limit=2000, reported_at=None)["fraction"] == 0.425  # type: ignore[index]
    unlimited = build_usage(REPORT, limit=0, reported_at=None)
    assert unlimited is not None
    assert "fraction" not in unlimited
    assert build_usage({"result": "failed"}, limit=1000, reported_at=None) is None


def test_a_raised_budget_rescales_the_kept_usage_at_once() -> None:
    kept = build_usage(REPORT, limit=1000, reported_at=None)
    assert kept is not None
    assert build_with_limit(kept, 8500)["fraction"] == 0.1
    assert "fraction" not in build_with_limit(kept, 0)


def condition(found: dict[str, Any] | None, limit: int = 1000) -> conditions.Condition | None:
    return build_budget_condition(found, limit=limit, name="docs-usage", now=NOW)


def test_budget_exceeded_is_true_with_which_budget_and_when_it_resets_once_spent() -> None:
    spent = build_usage(
        {**REPORT, "tokens_in": 900, "tokens_out": 100}, limit=1000, reported_at=None
    )
    cond = condition(spent)
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("True", "MonthlyBudgetSpent")
    assert "agent-monthly budget of 1000 tokens" in cond["message"]
    assert RESETS in cond["message"]


def test_budget_exceeded_is_false_within_the_budget_and_says_how_much_is_used() -> None:
    cond = condition(build_usage(REPORT, limit=1000, reported_at=None))
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("False", "WithinBudget")
    assert "850 of 1000 tokens (85%)" in cond["message"]


def test_budget_exceeded_is_unknown_before_this_months_report_and_absent_without_a_limit() -> None:
    for found in (None, usage(0.99, period="2026-11")):
        cond = condition(found)
        assert cond is not None
        assert (cond["status"], cond["reason"]) == ("Unknown", "WaitingForUsageReport")
        assert "2026-12" in cond["message"]
    assert condition(usage(2.0), limit=0) is None


def test_the_warning_fires_once_per_crossing_of_80_percent() -> None:
    assert is_crossing(usage(0.5), usage(0.8))
    assert is_crossing(None, usage(0.9))  # the first report is already past it
    assert not is_crossing(usage(0.81), usage(0.95))  # still past it: no second Event
    assert not is_crossing(usage(0.81), usage(0.81))
    assert not is_crossing(usage(0.5), usage(0.79))
    assert is_crossing(usage(0.95, period="2026-11"), usage(0.85))  # a new month crossed again
    assert is_crossing(usage(0.3), usage(0.9))  # fell below (a raised budget), crossed again
    assert not is_crossing(usage(0.9), None)
    assert not is_crossing(None, {"period": "2026-12", "tokensIn": 5})  # no limit, no fraction


def test_one_crossing_has_one_event_name_so_a_repeat_is_refused_as_a_duplicate() -> None:
    agent = build_agent(
        {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"},
         "spec": {"database": {"managed": {}}}},
        default_image="ragagent:test",
    )  # fmt: skip
    crossed = build_usage(REPORT, limit=1000, reported_at=None)
    assert crossed is not None
    notice = build_crossing_event(agent, crossed)
    assert notice["metadata"] == {"name": "docs.budget-2026-12-1000", "namespace": "team"}
    assert (notice["type"], notice["reason"]) == ("Warning", "BudgetNearlySpent")
    assert notice["message"].startswith("85% of the agent-monthly budget is used in 2026-12")
    raised = build_crossing_event(agent, build_with_limit(crossed, 1060))
    assert raised["metadata"]["name"] == "docs.budget-2026-12-1060"  # a new crossing, a new name
