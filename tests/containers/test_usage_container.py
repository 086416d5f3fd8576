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


# The container tests share one database, and earlier ones chat: this test's own rows are
# added to whatever the month already holds, and its numbers are checked as that sum. The sums
# are cast to bigint: PostgreSQL's sum() of integers is numeric, which psycopg reads as a
# Decimal, and a Decimal never equals the report's float (0.2745 != Decimal('0.2745')).
MONTH_SQL = (
    "SELECT coalesce(sum(tokens_in), 0)::bigint, coalesce(sum(tokens_out), 0)::bigint, "
    "coalesce(sum(tokens_in) FILTER (WHERE model = 'gpt-a'), 0)::bigint, "
    "coalesce(sum(tokens_out) FILTER (WHERE model = 'gpt-a'), 0)::bigint "
    "FROM token_usage WHERE day >= %(month)s"
)
IDENTITY = "apikey:usage-container-test"


def test_the_usage_pod_reports_the_month_and_sweeps_long_expired_reservations(
    stack: stacks.Stack, ingested: runner.Finished, host_db_url: str
) -> None:
    today = datetime.now(UTC).date()
    month = today.replace(day=1)
    with psycopg.connect(host_db_url) as conn:
        conn.execute(
            "INSERT INTO token_usage (identity, day, model, tokens_in, tokens_out) VALUES "
            "(%(who)s, %(day)s, 'gpt-a', 1500, 500)",
            {"who": IDENTITY, "day": today},
        )
        (stale,) = conn.execute(
            "INSERT INTO token_reservations (identity, day, month, tokens, expires_at) "
            "VALUES (%(who)s, %(day)s, %(month)s, 10, now() - interval '2 hours') RETURNING id",
            {"who": IDENTITY, "day": today, "month": month},
        ).fetchone() or (None,)
        tokens_in, tokens_out, priced_in, priced_out = conn.execute(
            MONTH_SQL, {"month": month}
        ).fetchone() or (0, 0, 0, 0)
    budgeted = stack.with_spec(budgets={"agentMonthlyTokens": 8000, "prices": PRICES})
    cron = usage_job.build_usage_cronjob(budgeted.agent, image=budgeted.agent.image)
    done = budgeted.run(cron)
    assert done.exit_code == 0, done.describe()
    report = json.loads(done.termination_message)
    assert report == done.last_json()
    assert (report["period"], report["limit"]) == (today.strftime("%Y-%m"), 8000)
    assert (report["tokens_in"], report["tokens_out"]) == (tokens_in, tokens_out)
    assert report["cost"] == pytest.approx(priced_in * 2 / 1000 + priced_out * 4 / 1000, abs=1e-6)
    assert report["cost"] >= 5.0  # this test's own 1500 in and 500 out of gpt-a
    assert report["fraction"] == pytest.approx((tokens_in + tokens_out) / 8000, abs=1e-4)
    assert report["swept"] >= 1
    with psycopg.connect(host_db_url) as conn:
        left = conn.execute("SELECT count(*) FROM token_reservations WHERE id = %s", (stale,))
        assert left.fetchone() == (0,)
