"""The month's usage report (``ragagent usage --report``), the sweep of long-expired
reservations and the monthly budget's gauges, on the real database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragagent.cli import app
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.metrics import BUDGET_MONTH_LIMIT, BUDGET_MONTH_USED
from ragagent.core.termination import TERMINATION_LOG_ENV
from ragagent.db import token_month, token_usage
from ragagent.services import budget, budget_gauge, usage_report

pytestmark = pytest.mark.db

NOW = datetime.now(UTC)
MONTH = NOW.date().replace(day=1)
LAST_MONTH = (MONTH - timedelta(days=1)).replace(day=1)
_RESERVE = """
INSERT INTO token_reservations (identity, day, month, tokens, expires_at)
SELECT 'jwt:x', %(day)s, %(month)s, 10, now() - make_interval(secs => %(ago)s)
FROM generate_series(1, %(count)s)
"""


async def seed(db: Database, identity: str, day: date, model: str, tokens: tuple[int, int]) -> None:
    await token_usage.settle(
        db, token_usage.Reserved(None, identity, day, 0), spent={model: tokens}
    )


async def reservations(db: Database, *, ago: float, count: int) -> None:
    async with db.connection() as conn:
        await conn.execute(
            _RESERVE, {"day": NOW.date(), "month": MONTH, "ago": ago, "count": count}
        )


async def count_reservations(db: Database) -> int:
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM token_reservations")).fetchone()
    assert row is not None
    return int(row["n"])


async def test_the_sweep_deletes_only_reservations_expired_past_the_grace_in_batches(
    db: Database,
) -> None:
    await reservations(db, ago=7200, count=5)  # long expired: swept
    await reservations(db, ago=10, count=2)  # expired just now: kept for the grace period
    await reservations(db, ago=-600, count=1)  # still counting
    swept = await token_month.sweep_reservations(db, grace_seconds=3600, batch=2)
    assert swept == 5
    assert await count_reservations(db) == 3
    assert await token_month.sweep_reservations(db, grace_seconds=3600, batch=2) == 0


async def test_the_sweep_stops_after_its_batch_bound_and_the_next_run_takes_the_rest(
    db: Database,
) -> None:
    await reservations(db, ago=7200, count=7)
    assert await token_month.sweep_reservations(db, grace_seconds=0, batch=2, max_batches=2) == 4
    assert await token_month.sweep_reservations(db, grace_seconds=0, batch=2) == 3


async def test_the_report_sums_the_month_of_every_identity_and_prices_it(
    db: Database, pg_settings: Settings
) -> None:
    await seed(db, "jwt:a", NOW.date(), "gpt-a", (1000, 500))
    await seed(db, "jwt:b", MONTH, "gpt-b", (300, 200))
    await seed(db, "jwt:a", LAST_MONTH, "gpt-a", (99_000, 1))  # another month: not counted
    await reservations(db, ago=7200, count=3)
    settings = pg_settings.model_copy(
        update={"budget_agent_tokens_per_month": 4000, "budget_prices": ["gpt-a=2/4"]}
    )
    report = await usage_report.make_report(db, settings, NOW)
    next_month = budget.resets_at("agent-monthly", MONTH)
    assert report == {
        "result": "succeeded",
        "period": MONTH.strftime("%Y-%m"),
        "tokens_in": 1300,
        "tokens_out": 700,
        "cost": 4.0,  # gpt-a: 1000 * 2/1000 + 500 * 4/1000; gpt-b has no price
        "limit": 4000,
        "fraction": 0.5,
        "resets_at": next_month.isoformat().replace("+00:00", "Z"),
        "swept": 3,
    }
    unlimited = await usage_report.make_report(db, pg_settings, NOW)
    assert unlimited["limit"] == 0
    assert "fraction" not in unlimited


def test_the_report_line_is_compact_and_within_the_termination_message_limit() -> None:
    months = [token_month.ModelMonth(f"model-{n}", 10**12, 10**12) for n in range(500)]
    report = usage_report.build_report(months, prices={}, limit=10**15, month=MONTH, swept=10**9)
    line = usage_report.build_line(report)
    assert len(line.encode()) < 300
    assert " " not in line
    assert json.loads(line)["fraction"] == 1.0


async def test_usage_report_prints_the_line_and_leaves_it_as_the_termination_message(
    db: Database, pg_settings: Settings, tmp_path: Path
) -> None:
    await seed(db, "jwt:a", NOW.date(), "gpt-a", (40, 10))
    assert pg_settings.database_url is not None
    message = tmp_path / "termination-log"
    env = {
        "DATABASE_URL": pg_settings.database_url.get_secret_value(),
        "RAGAGENT_DATA_DIR": str(tmp_path / "data"),
        "RAGAGENT_BUDGET_AGENT_TOKENS_PER_MONTH": "200",
        TERMINATION_LOG_ENV: str(message),
    }
    # In a thread: the command runs its own event loop.
    done = await asyncio.to_thread(CliRunner().invoke, app, ["usage", "--report"], env=env)
    assert done.exit_code == 0, done.output
    printed = json.loads(done.output)
    assert printed["tokens_in"] == 40
    assert printed["fraction"] == 0.25
    assert json.loads(message.read_text()) == printed


async def test_the_gauges_show_the_month_and_the_limit(db: Database) -> None:
    await seed(db, "jwt:a", NOW.date(), "gpt-a", (70, 30))
    await seed(db, "jwt:a", LAST_MONTH, "gpt-a", (5000, 0))
    assert await budget_gauge.refresh_month(db, 400, NOW) == 100
    assert BUDGET_MONTH_USED._value.get() == 100
    assert BUDGET_MONTH_LIMIT._value.get() == 400
