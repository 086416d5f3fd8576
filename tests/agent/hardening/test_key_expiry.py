"""API keys that expire: refused with 401 once past their date, made with
``ragagent apikey create --expires-in``, and counted by a low-cardinality gauge."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from ragagent.cli import app as cli_app
from ragagent.core.metrics import API_KEYS_EXPIRING, AUTH_FAILURES, REGISTRY
from ragagent.services import key_expiry
from tests.agent.hardening.harness import bearer, build_settings, create_key, running_app


async def test_an_expired_key_is_refused_and_a_current_one_accepted(
    db_url: str, data_dir: str
) -> None:
    expired_failures = AUTH_FAILURES.labels(reason="expired")
    before = expired_failures._value.get()
    async with running_app(build_settings(db_url, data_dir)) as running:
        state = running.state
        current = await create_key(state, scopes=["chat"], expires_in=timedelta(days=1))
        lapsed = await create_key(state, scopes=["chat"], expires_in=timedelta(seconds=-1))
        forever = await create_key(state, scopes=["chat"])
        for key, expected in ((current, 200), (lapsed, 401), (forever, 200)):
            response = await running.client.get("/v1/conversations", headers=bearer(key))
            assert response.status_code == expected
        refused = await running.client.get("/v1/conversations", headers=bearer(lapsed))
        assert refused.json()["detail"] == "This API key has expired"
    assert expired_failures._value.get() == before + 2


async def test_the_gauge_counts_active_keys_expiring_within_a_week(
    db_url: str, data_dir: str
) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        state = running.state
        for days in (1, 6, 8, 30):
            await create_key(state, scopes=["chat"], expires_in=timedelta(days=days))
        await create_key(state, scopes=["chat"], expires_in=timedelta(days=2), revoked=True)
        await create_key(state, scopes=["chat"], expires_in=timedelta(seconds=-1))
        await create_key(state, scopes=["chat"])
        assert await key_expiry.refresh_expiring(state.db) == 2
    assert REGISTRY.get_sample_value("ragagent_api_keys_expiring") == 2
    assert API_KEYS_EXPIRING._value.get() == 2


@pytest.fixture
def cli_env(db_url: str, data_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("RAGAGENT_DATA_DIR", data_dir)
    monkeypatch.setenv("RAGAGENT_SECRET_KEY", "cli-secret-" + "c" * 30)


@pytest.mark.usefixtures("cli_env")
def test_apikey_create_takes_an_expiry_and_list_shows_it() -> None:
    created = CliRunner().invoke(
        cli_app, ["apikey", "create", "--name", "ci", "--expires-in", "30d"]
    )
    assert created.exit_code == 0, created.output
    expires = re.search(r"expires: (\S+)", created.output)
    assert expires is not None
    assert expires.group(1) != "never"
    listed = CliRunner().invoke(cli_app, ["apikey", "list"])
    assert listed.exit_code == 0, listed.output
    assert expires.group(1) in listed.output
    assert "EXPIRES" in listed.output


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize("bad", ["30", "30x", "-5d", "1.5d", "0d", "9999999d", "30 days"])
def test_apikey_create_refuses_a_bad_duration_clearly(bad: str) -> None:
    result = CliRunner().invoke(cli_app, ["apikey", "create", "--name", "x", "--expires-in", bad])
    assert result.exit_code == 2
    assert "--expires-in" in result.output
    assert "duration" in result.output or "longer than" in result.output
