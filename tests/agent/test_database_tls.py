"""The agent's connections verify the database server: a real PostgreSQL serving TLS with a
test CA, reached with the URL production accepts (sslmode=verify-full, sslrootcert)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ragagent.backup import pg
from ragagent.backup.errors import BackupError
from ragagent.core import db, errors
from ragagent.core.config import DataSettings, load_settings
from tests.support import tls_postgres


@pytest.fixture(scope="module")
def server() -> Iterator[tls_postgres.TlsPostgres]:
    with tls_postgres.running_tls_postgres() as running:
        yield running


def test_production_accepts_the_url_and_the_connection_is_encrypted(
    server: tls_postgres.TlsPostgres,
) -> None:
    settings = load_settings(DataSettings, environment="production", database_url=server.url())
    assert settings.database_url is not None
    target = pg.build_target(settings.database_url.get_secret_value())
    with pg.connect(target) as conn:
        row = conn.execute(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone()
    assert row is not None
    assert row[0] is True
    assert str(row[1]).startswith("TLS")


def test_a_server_certificate_from_another_ca_is_refused(
    server: tls_postgres.TlsPostgres,
) -> None:
    target = pg.build_target(server.url(ca_file=server.other_ca_file))
    with pytest.raises(BackupError, match="certificate verify failed"):
        pg.connect(target).close()


def test_a_server_certificate_for_another_name_is_refused(
    server: tls_postgres.TlsPostgres,
) -> None:
    # The certificate names localhost only; 127.0.0.1 is the same server under another name.
    target = pg.build_target(server.url(host="127.0.0.1"))
    with pytest.raises(BackupError, match="does not match host name"):
        pg.connect(target).close()


async def test_the_server_path_refuses_an_unverified_server_too(
    server: tls_postgres.TlsPostgres,
) -> None:
    # What Database.open runs first: an unverifiable server is unavailable, never used.
    with pytest.raises(errors.DatabaseUnavailable):
        await db.ensure_vector_extension(server.url(ca_file=server.other_ca_file))
    with pytest.raises(errors.DatabaseUnavailable):
        await db.ensure_vector_extension(server.url(host="127.0.0.1"))


def test_the_bundled_pg_dump_reaches_a_verify_full_server_through_the_relay(
    server: tls_postgres.TlsPostgres, tmp_path: Path
) -> None:
    # Its libpq has no TLS: on its own it stops at 'sslmode value "verify-full" invalid'.
    target = pg.build_target(server.url())
    out = tmp_path / "schema.sql"
    args = ["--schema-only", f"--file={out}", f"--dbname={target.conninfo}"]
    pg.run_tool(pg.find_bundled_pg_bin(), "pg_dump", args, target)
    assert "PostgreSQL database dump complete" in out.read_text()


def test_the_relay_refuses_an_unverified_server_before_the_tool_starts(
    server: tls_postgres.TlsPostgres, tmp_path: Path
) -> None:
    target = pg.build_target(server.url(ca_file=server.other_ca_file))
    args = ["--schema-only", f"--file={tmp_path / 'x.sql'}", f"--dbname={target.conninfo}"]
    with pytest.raises(BackupError, match="certificate verify failed"):
        pg.run_tool(pg.find_bundled_pg_bin(), "pg_dump", args, target)
    assert not (tmp_path / "x.sql").exists()
