"""The agent's env contract (ragagent.core.settings_env) that the operator renders through."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from ragagent.cli import app
from ragagent.core import config, settings_env
from ragagent.core.config import DataSettings, Settings, load_settings
from tests.support import fresh_python

# What the operator image lacks: it installs ragagent without dependencies.
HEAVY = ("fastapi", "starlette", "numpy", "psycopg", "openai", "httpx", "typer", "jwt")


def test_importing_the_contract_pulls_in_no_agent_dependencies() -> None:
    code = (
        "import sys, ragagent.core.settings_env, ragagent_operator.render.configmap\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    assert fresh_python.run(code) == "[]"


def test_env_name_is_the_variable_the_agent_reads_first() -> None:
    assert settings_env.env_name("environment") == "RAGAGENT_ENVIRONMENT"
    assert settings_env.env_name("database_url") == "RAGAGENT_DATABASE_URL"
    assert settings_env.env_name("chunk_size") == "RAGAGENT_CHUNK_SIZE"
    assert settings_env.env_name("otlp_endpoint") == "OTEL_EXPORTER_OTLP_ENDPOINT"


def test_an_unknown_field_fails_where_it_is_written() -> None:
    with pytest.raises(KeyError, match="chunk_sise"):
        settings_env.build_env({"chunk_sise": 500})


def test_secrets_are_never_rendered_as_values() -> None:
    with pytest.raises(ValueError, match="Secret reference"):
        settings_env.build_env({"secret_key": "s" * 40})


def test_rendered_values_read_back_as_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    values: dict[str, settings_env.EnvValue] = {
        "auth_disabled": False,
        "chunk_size": 500,
        "shutdown_grace_seconds": 20.5,
        "data_dir": Path("/tmp/ragagent"),
        "cors_allowed_origins": ["https://a.example", "https://b.example"],
        "log_level": "DEBUG",
    }
    for name, text in settings_env.build_env(values).items():
        monkeypatch.setenv(name, text)
    settings = load_settings()
    assert {field: getattr(settings, field) for field in values} == values


def test_an_alias_wins_over_the_bare_name_the_image_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    env = settings_env.build_env({"environment": "development"})
    for name, text in env.items():
        monkeypatch.setenv(name, text)
    assert not load_settings().is_production


def test_every_cli_command_says_whether_it_signs_credentials() -> None:
    commands = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert commands == config.SIGNING_COMMANDS | config.DATA_COMMANDS
    assert config.settings_class("serve") is Settings
    assert config.settings_class("backup") is DataSettings
