"""Budgets through the real app: the 429 that names the budget, ``GET /v1/usage`` and
``ragagent usage``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ragagent.cli import app
from ragagent.core import security
from ragagent.core.db import Database
from ragagent.db import token_usage
from ragagent.main import create_app
from tests.agent.hardening.harness import ISSUER, bearer, build_settings, build_token, running_app

TODAY = datetime.now(UTC).date()
# Too small for any turn's reservation (five passages alone are estimated at 1,000 tokens).
NO_ROOM = {"rate_limit_tokens_per_day": 50}


async def seed(db: Database, identity: str, day: date, model: str, tokens: tuple[int, int]) -> None:
    reserved = token_usage.Reserved(None, identity, day, 0)
    await token_usage.settle(db, reserved, spent={model: tokens})


async def test_a_turn_over_the_daily_budget_gets_a_429_naming_it_and_its_reset(
    db_url: str, data_dir: str
) -> None:
    async with running_app(build_settings(db_url, data_dir, **NO_ROOM)) as running:
        lena = bearer(build_token(sub="lena", scope="chat"))
        refused = await running.client.post("/v1/chat", json={"message": "hi"}, headers=lena)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["type"] == "urn:ragagent:error:budget-exceeded"
    assert body["budget"] == "identity-daily"
    tomorrow = datetime.combine(TODAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    assert datetime.fromisoformat(body["resets_at"]) == tomorrow
    assert 1 <= int(refused.headers["Retry-After"]) <= 86_400
    assert "identity-daily" in body["detail"]


def test_a_websocket_turn_over_budget_gets_an_error_frame_naming_it(
    db_url: str, data_dir: str
) -> None:
    settings = build_settings(db_url, data_dir, budget_agent_tokens_per_month=50)
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect(
            "/v1/ws/chat", headers=bearer(build_token(sub="ws-lena", scope="chat"))
        ) as ws,
    ):
        ws.send_json({"message": "hello"})
        refused = ws.receive_json()
    assert refused["type"] == "error"
    assert refused["status"] == 429
    assert refused["budget"] == "agent-monthly"
    assert refused["resets_at"].endswith("-01T00:00:00Z")


async def test_usage_is_for_admins_and_filters_by_identity_and_period(
    db_url: str, data_dir: str
) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        db = running.state.db
        await seed(db, "apikey:1", TODAY, "gpt-a", (100, 10))
        await seed(db, "apikey:2", TODAY, "gpt-a", (200, 20))
        await seed(db, "apikey:1", TODAY - timedelta(days=40), "gpt-b", (300, 30))
        admin = bearer(build_token(sub="root", scope="admin"))
        chatter = bearer(build_token(sub="mo", scope="chat"))
        assert (await running.client.get("/v1/usage", headers=chatter)).status_code == 403
        month = (await running.client.get("/v1/usage", headers=admin)).json()
        mine = await running.client.get(
            "/v1/usage",
            params={"identity": "apikey:1", "since": str(TODAY - timedelta(days=60))},
            headers=admin,
        )
        backwards = await running.client.get(
            "/v1/usage", params={"since": str(TODAY), "until": "2000-01-01"}, headers=admin
        )
    assert (month["tokens_in"], month["tokens_out"]) == (300, 30)
    assert {row["identity"] for row in month["rows"]} == {"apikey:1", "apikey:2"}
    assert [row["model"] for row in mine.json()["rows"]] == ["gpt-b", "gpt-a"]
    assert mine.json()["tokens_in"] == 400
    assert backwards.status_code == 422


async def test_usage_prices_tokens_and_charges_a_chat_turn_to_its_caller(
    db_url: str, data_dir: str
) -> None:
    priced = {"budget_prices": "extractive=1/2", "answer_min_similarity": 0.0}
    async with running_app(build_settings(db_url, data_dir, **priced)) as running:
        nia = bearer(build_token(sub="nia", scope="chat admin"))
        turn = await running.client.post("/v1/chat", json={"message": "hello"}, headers=nia)
        who = security.jwt_principal_id(ISSUER, "nia")
        usage = await running.client.get("/v1/usage", params={"identity": who}, headers=nia)
    spent = turn.json()["usage"]
    [row] = usage.json()["rows"]
    assert (row["tokens_in"], row["tokens_out"]) == (
        spent["prompt_tokens"],
        spent["completion_tokens"],
    )
    assert row["cost"] == (row["tokens_in"] + 2 * row["tokens_out"]) / 1000


def test_the_usage_command_prints_a_table_with_totals_and_json(db_url: str, data_dir: str) -> None:
    with TestClient(create_app(build_settings(db_url, data_dir))):  # migrates the database
        pass
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO token_usage (identity, day, model, tokens_in, tokens_out) VALUES "
            "('apikey:9', %(day)s, 'gpt-a', 1500, 500), ('apikey:8', %(day)s, 'gpt-a', 10, 1)",
            {"day": TODAY},
        )
    env = {
        "DATABASE_URL": db_url,
        "RAGAGENT_DATA_DIR": data_dir,
        "RAGAGENT_BUDGET_PRICES": "gpt-a=2/4",
    }
    table = CliRunner().invoke(app, ["usage", "--identity", "apikey:9"], env=env)
    assert table.exit_code == 0, table.output
    assert table.output.splitlines() == [
        "DAY\tIDENTITY\tMODEL\tTOKENS IN\tTOKENS OUT\tCOST",
        f"{TODAY}\tapikey:9\tgpt-a\t1500\t500\t5.0000",
        "TOTAL\t-\t-\t1500\t500\t5.0000",
    ]
    as_json = CliRunner().invoke(app, ["usage", "--json"], env=env)
    assert {row["identity"] for row in json.loads(as_json.output)} == {"apikey:8", "apikey:9"}
    wrong = CliRunner().invoke(app, ["usage", "--since", "yesterday"], env=env)
    assert wrong.exit_code == 2
