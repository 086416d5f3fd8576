"""Production refuses a database URL that does not verify the server, unless waived."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragagent.core import database_tls
from ragagent.core.config import ConfigError, DataSettings, load_settings

STRONG = "s" * 32
PLAIN = "postgresql://app:db-password-123@db.example:5432/ragagent"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAGAGENT_ENVIRONMENT", "ENVIRONMENT", "RAGAGENT_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RAGAGENT_DATABASE_TLS_WAIVED", raising=False)


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.crt"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


def production(url: str | None, **overrides: object) -> None:
    load_settings(environment="production", secret_key=STRONG, database_url=url, **overrides)


@pytest.mark.parametrize(
    "query",
    ["", "?sslmode=require", "?sslmode=verify-ca&sslrootcert=system", "?sslmode=prefer"],
)
def test_production_refuses_a_url_that_does_not_verify_the_server(query: str) -> None:
    with pytest.raises(ConfigError) as caught:
        production(PLAIN + query)
    message = str(caught.value)
    assert "must require sslmode=verify-full" in message
    assert "or set RAGAGENT_DATABASE_TLS_WAIVED=true" in message
    assert "db-password-123" not in message  # the URL is never echoed


def test_production_refuses_verify_full_without_a_ca() -> None:
    with pytest.raises(ConfigError, match="must name the CA that signs the server"):
        production(PLAIN + "?sslmode=verify-full")


def test_production_refuses_a_ca_file_that_is_not_there(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.crt"
    with pytest.raises(ConfigError, match=f"sslrootcert {missing} is not a readable file"):
        production(f"{PLAIN}?sslmode=verify-full&sslrootcert={missing}")


def test_production_accepts_verify_full_with_a_ca_file(ca_file: Path) -> None:
    production(f"{PLAIN}?sslmode=verify-full&sslrootcert={ca_file}")
    production(f"host=db.example dbname=ragagent sslmode='verify-full' sslrootcert='{ca_file}'")


def test_production_accepts_verify_full_with_the_system_store() -> None:
    production(PLAIN + "?sslmode=verify-full&sslrootcert=system")


def test_the_last_of_repeated_parameters_counts_as_in_libpq() -> None:
    with pytest.raises(ConfigError, match="must require sslmode=verify-full"):
        production(PLAIN + "?sslrootcert=system&sslmode=verify-full&sslmode=disable")


def test_a_unix_socket_needs_no_tls() -> None:
    production("postgresql://app@%2Fvar%2Frun%2Fpostgresql/ragagent")
    production("postgresql:///ragagent?host=/var/run/postgresql")
    production("host=/var/run/postgresql dbname=ragagent")


def test_the_waiver_accepts_a_plain_url() -> None:
    production(PLAIN, database_tls_waived=True)


def test_the_waiver_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGAGENT_DATABASE_TLS_WAIVED", "true")
    production(PLAIN)


def test_the_data_commands_are_held_to_the_same_rule() -> None:
    with pytest.raises(ConfigError, match="must require sslmode=verify-full"):
        load_settings(DataSettings, environment="production", database_url=PLAIN)


def test_development_accepts_a_plain_url() -> None:
    assert not load_settings(database_url=PLAIN).is_production


def test_an_unreadable_url_is_refused_not_passed() -> None:
    assert database_tls.parse_conninfo("not a url") is None
    assert database_tls.build_tls_problems(None) == [
        "DATABASE_URL cannot be read as a postgresql:// URL or a key=value string"
    ]


def test_the_parser_reads_both_libpq_forms() -> None:
    url = "postgresql+psycopg://u:p@h1:5432,h2/db?sslmode=verify-full&sslrootcert=%2Fca.pem"
    assert database_tls.parse_conninfo(url) == {
        "host": "h1,h2",
        "sslmode": "verify-full",
        "sslrootcert": "/ca.pem",
    }
    assert database_tls.parse_conninfo(r"host=h password='it\'s' sslmode=require") == {
        "host": "h",
        "password": "it's",
        "sslmode": "require",
    }
