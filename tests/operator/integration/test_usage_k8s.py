"""Token usage on the real control plane: the usage CronJob's run leaves the month's report
as its termination message, and the operator turns it into status.usage, BudgetExceeded and
one Warning Event per crossing of 80 % of the monthly budget.

The RagAgent's pods ask for a node label no node has, so no kwok stage runs the usage pod;
the test starts the CronJob's runs itself and finishes their pods as a kubelet would, with
the line ``ragagent usage --report`` leaves.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.operator.integration import agents, harness, jobs
from tests.support import controlplane

pytestmark = pytest.mark.k8s
NO_NODE = {"ragagent.dev/test-node": "none"}
PERIOD = datetime.now(UTC).strftime("%Y-%m")


def report(tokens_in: int, tokens_out: int) -> dict[str, Any]:
    return {
        "result": "succeeded", "period": PERIOD, "tokens_in": tokens_in,
        "tokens_out": tokens_out, "cost": 0.5, "limit": 1000,
        "resets_at": "2099-01-01T00:00:00Z", "swept": 0,
    }  # fmt: skip


def run_usage_job(
    cluster: controlplane.ControlPlane, ns: str, name: str, line: dict[str, Any]
) -> None:
    """Start a run of the usage CronJob as its controller would and finish its pod."""
    cronjob = harness.get_json(cluster, "cronjob", "docs-usage", "-n", ns)
    assert cronjob is not None
    run = harness.job_from_cronjob(cronjob, name)
    run["spec"]["suspend"] = False
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(run))
    pod = harness.wait_for(lambda: jobs.job_pod(cluster, ns, name), f"the pod of {name}")
    jobs.finish_pod(cluster, ns, pod, report=line)


def wait_budget(
    cluster: controlplane.ControlPlane, ns: str, operator: harness.Operator, status: str
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        found = agents.condition(cluster, ns, "BudgetExceeded")
        return found if found.get("status") == status else None

    return dict(harness.wait_for(reached, f"BudgetExceeded={status}", operator=operator))


def events(cluster: controlplane.ControlPlane, ns: str, reason: str) -> list[tuple[str, str, str]]:
    return [item for item in agents.events_of(cluster, ns) if item[1] == reason]


def test_usage_reports_become_status_usage_budget_exceeded_and_one_warning_at_80_percent(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator
) -> None:
    waiting = agents.agent_with_condition(
        cluster, namespace, operator, "BudgetExceeded", "Unknown",
        budgets={"agentMonthlyTokens": 1000}, nodeSelector=NO_NODE,
    )  # fmt: skip
    assert waiting["reason"] == "WaitingForUsageReport"
    run_usage_job(cluster, namespace, "docs-usage-1", report(600, 250))

    within = wait_budget(cluster, namespace, operator, "False")
    assert within["reason"] == "WithinBudget"
    assert "850 of 1000 tokens (85%)" in within["message"]
    usage = agents.agent_status(cluster, namespace)["usage"]
    assert (usage["period"], usage["tokensIn"], usage["tokensOut"]) == (PERIOD, 600, 250)
    assert (usage["monthlyLimit"], usage["fraction"], usage["cost"]) == (1000, 0.85, 0.5)
    [nearly] = harness.wait_for(
        lambda: events(cluster, namespace, "BudgetNearlySpent"), "the 80% Warning Event",
        operator=operator,
    )  # fmt: skip
    assert nearly[0] == "Warning"
    assert "85% of the agent-monthly budget" in nearly[2]

    # A reconcile from a status without the usage (as a stale read would be) sees the same
    # crossing again; its Event has the crossing's name, so the API server refuses the copy.
    cluster.kubectl(
        "patch", "ragagent", "docs", "-n", namespace, "--subresource=status", "--type=json",
        "-p", json.dumps([{"op": "remove", "path": "/status/usage"}]),
    )  # fmt: skip
    harness.wait_for(
        lambda: agents.agent_status(cluster, namespace).get("usage"), "status.usage again",
        operator=operator,
    )  # fmt: skip
    assert len(events(cluster, namespace, "BudgetNearlySpent")) == 1

    run_usage_job(cluster, namespace, "docs-usage-2", report(700, 300))
    spent = wait_budget(cluster, namespace, operator, "True")
    assert spent["reason"] == "MonthlyBudgetSpent"
    assert "resets at 2099-01-01T00:00:00Z" in spent["message"]
    warned = harness.wait_for(
        lambda: events(cluster, namespace, "MonthlyBudgetSpent"), "the BudgetExceeded Event",
        operator=operator,
    )  # fmt: skip
    assert warned[0][0] == "Warning"
    assert len(events(cluster, namespace, "BudgetNearlySpent")) == 1  # still past 80 %: once

    agents.patch_agent(cluster, namespace, {"spec": {"budgets": {"agentMonthlyTokens": 0}}})
    harness.wait_for(
        lambda: harness.get_json(cluster, "cronjob", "docs-usage", "-n", namespace) is None,
        "the CronJob removed with the budget",
        operator=operator,
    )
    gone = harness.wait_for(
        lambda: not agents.condition(cluster, namespace, "BudgetExceeded"),
        "BudgetExceeded gone without a monthly budget",
        operator=operator,
    )
    assert gone
