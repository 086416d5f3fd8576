"""The agent image run as the usage CronJob's pod: ``ragagent usage --report`` against the
managed PostgreSQL image, with the pod's own spec (settings ConfigMap, database URL Secret,
read-only root file system), leaves the month's report as its termination message."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest

from ragagent_operator.render import usage_job
from tests.containers import stack as stacks
from tests.support.podrun import runner

pytestmark = pytest.mark.containers
PRICES = [{"model": "gpt-a", "inputPer1k": 2, "outputPer1k": 4}]


def test_the_usage_pod_reports_the_month_and_sweeps_long_expired_reservations(
    stack: stacks.Stack, ingested: runner.Finished, host_db_url: str
) -> None:
    today = datetime.now(UTC).date()
    with psycopg.connect(host_db_url) as conn:
        conn.execute(
            "INSERT INTO token_usage (identity, day, model, tokens_in, tokens_out) VALUES "
            "('apikey:1', %(day)s, 'gpt-a', 1500, 500) ON CONFLICT DO NOTHING",
            {"day": today},
        )
        conn.execute(
            "INSERT INTO token_reservations (identity, day, month, tokens, expires_at) "
            "VALUES ('apikey:1', %(day)s, %(month)s, 10, now() - interval '2 hours')",
            {"day": today, "month": today.replace(day=1)},
        )
    budgeted = stack.with_spec(budgets={"agentMonthlyTokens": 8000, "prices": PRICES})
    cron = usage_job.build_usage_cronjob(budgeted.agent, image=budgeted.agent.image)
    done = budgeted.run(cron)
    assert done.exit_code == 0, done.describe()
    report = json.loads(done.termination_message)
    assert report == done.last_json()
    assert (report["period"], report["limit"], report["swept"]) == (
        today.strftime("%Y-%m"),
        8000,
        1,
    )
    assert (report["tokens_in"], report["tokens_out"], report["cost"]) == (1500, 500, 5.0)
    assert report["fraction"] == 0.25
