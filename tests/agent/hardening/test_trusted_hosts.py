"""Production never accepts any Host header by accident: '*' (or an empty list, which the
middleware reads as '*') is refused with a message naming the setting and the way out, and
an unset list means the local names only."""

from __future__ import annotations

import pytest

from ragagent.core.config import ConfigError, load_settings
from tests.agent.hardening.harness import build_settings, running_app

PRODUCTION = {
    "environment": "production",
    "secret_key": "s" * 32,
    "database_url": "postgresql://app:pw@db.example:5432/ragagent?sslmode=verify-full"
    "&sslrootcert=system",
}
COMPLAINT = "RAGAGENT_TRUSTED_HOSTS must list the agent's host names in production, not '*'"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAGAGENT_TRUSTED_HOSTS", "RAGAGENT_TRUSTED_HOSTS_ALLOW_ANY", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RAGAGENT_ENVIRONMENT", raising=False)


@pytest.mark.parametrize("hosts", ["*", "agent.example,*", ""])
def test_production_refuses_any_host(hosts: str) -> None:
    with pytest.raises(ConfigError, match="invalid configuration") as caught:
        load_settings(**PRODUCTION, trusted_hosts=hosts)
    assert COMPLAINT in str(caught.value)
    assert "RAGAGENT_TRUSTED_HOSTS_ALLOW_ANY=true" in str(caught.value)


def test_production_refuses_it_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGAGENT_TRUSTED_HOSTS", "*")
    with pytest.raises(ConfigError, match="must list the agent's host names"):
        load_settings(**PRODUCTION)


def test_an_explicit_choice_allows_any_host_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGAGENT_TRUSTED_HOSTS", "*")
    monkeypatch.setenv("RAGAGENT_TRUSTED_HOSTS_ALLOW_ANY", "true")
    assert load_settings(**PRODUCTION).trusted_hosts == ["*"]


def test_unset_hosts_are_local_only_in_production_and_any_in_development() -> None:
    assert load_settings(**PRODUCTION).trusted_hosts == ["localhost", "127.0.0.1"]
    assert load_settings(environment="development").trusted_hosts == ["*"]


def test_named_hosts_start_in_production() -> None:
    settings = load_settings(**PRODUCTION, trusted_hosts="agent.example,*.chat.example")
    assert settings.trusted_hosts == ["agent.example", "*.chat.example"]


async def test_a_production_agent_with_the_default_answers_only_local_names(
    db_url: str, data_dir: str
) -> None:
    settings = build_settings(db_url, data_dir, environment="production", trusted_hosts=None)
    assert settings.trusted_hosts == ["localhost", "127.0.0.1"]
    async with running_app(settings) as running:
        for host, status in (("localhost:8000", 200), ("127.0.0.1", 200), ("evil.example", 400)):
            response = await running.client.get("/livez", headers={"Host": host})
            assert response.status_code == status, host
