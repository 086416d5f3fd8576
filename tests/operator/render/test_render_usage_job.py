"""The usage CronJob runs ``ragagent usage --report`` with the database URL and nothing
else, hardened as every Job, and exists only while the spec has something to report."""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator import jobs
from ragagent_operator.render import networkpolicy, usage_job
from ragagent_operator.render.common import Agent, build_agent


def make_agent(**budgets: Any) -> Agent:
    body = {
        "metadata": {"name": "docs", "namespace": "team", "uid": "u-1"},
        "spec": {"database": {"managed": {}}, "budgets": budgets},
    }
    return build_agent(body, default_image="ragagent:test", monitoring_namespace="prom")


def test_the_cronjob_reports_usage_every_ten_minutes_without_overlap() -> None:
    cron = usage_job.build_usage_cronjob(make_agent(agentMonthlyTokens=1000), image="img")
    spec = cron["spec"]
    assert cron["metadata"]["name"] == "docs-usage"
    assert (spec["schedule"], spec["concurrencyPolicy"]) == ("*/10 * * * *", "Forbid")
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (1, 1)
    assert spec["suspend"] is False
    template = spec["jobTemplate"]
    assert template["metadata"]["labels"][c.LABEL_COMPONENT] == c.COMPONENT_USAGE
    pod = template["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert (container["command"], container["args"]) == (["ragagent"], ["usage", "--report"])
    assert container["terminationMessagePath"] == "/dev/termination-log"


def test_the_usage_pod_reads_only_the_database_url_and_runs_restricted() -> None:
    cron = usage_job.build_usage_cronjob(make_agent(agentMonthlyTokens=1000), image="img")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    secret_keys = {
        item["valueFrom"]["secretKeyRef"]["key"]
        for item in container["env"]
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert secret_keys == {c.KEY_DATABASE_URL}
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_only_a_monthly_budget_or_prices_ask_for_usage_reports() -> None:
    assert not usage_job.is_reporting_usage(make_agent())
    assert not usage_job.is_reporting_usage(make_agent(identityDailyTokens=100))
    assert usage_job.is_reporting_usage(make_agent(agentMonthlyTokens=1))
    price = {"model": "m", "inputPer1k": 1, "outputPer1k": 2}
    assert usage_job.is_reporting_usage(make_agent(prices=[price]))


def test_usage_jobs_reach_the_database_only_and_never_move_the_agent_forward() -> None:
    assert networkpolicy.POD_NEEDS[c.COMPONENT_USAGE] == {networkpolicy.Need.DATABASE}
    kind = jobs.kind_of(c.COMPONENT_USAGE)
    assert kind is not None
    assert (kind.advances, kind.scheduled) == (jobs.Advances.NEVER, True)
