"""Production refuses every unsafe setting, names them all, and never echoes a secret."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ragagent.core.config import ConfigError, Settings, load_settings

STRONG = "s" * 32
SAFE_PRODUCTION = {
    "environment": "production",
    "secret_key": STRONG,
    "database_url": "postgresql://app:db-password-123@db.example:5432/ragagent"
    "?sslmode=verify-full&sslrootcert=system",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own environment must not change what these tests see."""
    for name in ("ENVIRONMENT", "DEBUG", "DATABASE_URL", "OPENAI_API_KEY", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"RAGAGENT_{name}", raising=False)
    for name in ("RAGAGENT_SECRET_KEY", "RAGAGENT_AUTH_DISABLED", "RAGAGENT_CORS_ALLOWED_ORIGINS"):
        monkeypatch.delenv(name, raising=False)


def test_safe_production_configuration_starts() -> None:
    settings = load_settings(**SAFE_PRODUCTION)
    assert settings.is_production


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"secret_key": None}, "RAGAGENT_SECRET_KEY must be set and at least 32 bytes"),
        ({"secret_key": "x" * 31}, "RAGAGENT_SECRET_KEY must be set and at least 32 bytes"),
        ({"debug": True}, "DEBUG must be off in production"),
        ({"cors_allowed_origins": "https://a.example,*"}, "must not contain a wildcard"),
        ({"cors_allowed_origins": "https://*.example"}, "must not contain a wildcard"),
        ({"auth_disabled": True}, "RAGAGENT_AUTH_DISABLED must not be set in production"),
        ({"database_url": None}, "DATABASE_URL must be set in production"),
    ],
)
def test_production_refuses_each_unsafe_setting(
    override: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ConfigError, match="invalid configuration") as caught:
        load_settings(**{**SAFE_PRODUCTION, **override})
    assert complaint in str(caught.value)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            environment="production", debug=True, auth_disabled=True, cors_allowed_origins="*"
        )
    message = str(caught.value)
    for complaint in ("SECRET_KEY", "DEBUG", "wildcard", "AUTH_DISABLED", "DATABASE_URL"):
        assert complaint in message


def test_development_accepts_what_production_refuses() -> None:
    settings = load_settings(debug=True, auth_disabled=True, cors_allowed_origins="*")
    assert not settings.is_production


def test_production_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DEBUG", "true")
    with pytest.raises(ConfigError, match="DEBUG must be off"):
        load_settings()


def test_secrets_come_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("f" * 40 + "\n")
    url_file = tmp_path / "url"
    url_file.write_text("postgresql://u:file-password@h/db?sslmode=verify-full&sslrootcert=system")
    monkeypatch.setenv("RAGAGENT_SECRET_KEY_FILE", str(secret_file))
    monkeypatch.setenv("DATABASE_URL_FILE", str(url_file))
    settings = load_settings(environment="production")
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "f" * 40
    assert settings.database_url is not None
    assert "file-password@h/db" in settings.database_url.get_secret_value()


def test_env_variable_wins_over_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("f" * 40)
    monkeypatch.setenv("RAGAGENT_SECRET_KEY_FILE", str(secret_file))
    monkeypatch.setenv("RAGAGENT_SECRET_KEY", "e" * 40)
    settings = load_settings()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "e" * 40


def test_unreadable_secret_file_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGAGENT_SECRET_KEY_FILE", "/nonexistent/secret")
    with pytest.raises(ConfigError, match="RAGAGENT_SECRET_KEY_FILE: cannot read"):
        load_settings()


def test_secrets_never_appear_in_reprs_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    short_secret, db_password, api_key = "short-secret-value", "db-password-123", "sk-openai-789"
    settings = Settings(
        secret_key="k" * 40,
        openai_api_key=api_key,
        database_url=f"postgresql://u:{db_password}@h/db",
    )
    texts = [repr(settings), str(settings), str(settings.model_dump())]
    with pytest.raises(ConfigError) as via_loader:
        load_settings(
            environment="production",
            secret_key=short_secret,
            debug=True,
            database_url=f"postgresql://u:{db_password}@h/db",
        )
    texts.append(str(via_loader.value))
    with pytest.raises(ValueError, match="unsafe configuration") as direct:
        Settings(environment="production", secret_key=short_secret, openai_api_key=api_key)
    texts.append(str(direct.value))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("settings: %r", settings)
    texts.append(caplog.text)
    for text in texts:
        for secret in ("k" * 40, short_secret, db_password, api_key):
            assert secret not in text


def test_scope_overrides_are_validated() -> None:
    assert load_settings(rate_limit_scopes="chat=30/5,ingest=10").rate_limit_scopes == [
        "chat=30/5",
        "ingest=10",
    ]
    with pytest.raises(ConfigError, match="rate_limit_scopes"):
        load_settings(rate_limit_scopes="chat=fast")


def test_log_level_is_validated_and_case_insensitive() -> None:
    assert load_settings(log_level="debug").log_level == "debug"
    with pytest.raises(ConfigError, match="log_level"):
        load_settings(log_level="chatty")
