"""Connection handling for the PostgreSQL tools: passwords stay off command lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragagent.backup import pg
from ragagent.backup.errors import BackupError


def test_password_is_split_from_the_conninfo() -> None:
    target = pg.build_target("postgresql+psycopg://app:s3cret@db.example:5433/rag?sslmode=require")
    assert "s3cret" not in target.conninfo
    assert target.password == "s3cret"
    assert target.dbname == "rag"
    assert "sslmode=require" in target.conninfo
    assert "port=5433" in target.conninfo


def test_tools_get_the_password_and_session_settings_from_the_environment() -> None:
    target = pg.build_target("postgresql://app:s3cret@db/rag")
    env = pg.tool_env(target, {"maintenance_work_mem": "256MB"})
    assert env["PGPASSWORD"] == "s3cret"
    assert env["PGOPTIONS"] == "-c maintenance_work_mem=256MB"


def test_other_database_on_the_same_server_keeps_host_and_password() -> None:
    target = pg.build_target("postgresql://app:s3cret@db:5433/rag").with_dbname("postgres")
    assert target.dbname == "postgres"
    assert "host=db" in target.conninfo
    assert target.password == "s3cret"


def test_invalid_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(BackupError) as caught:
        pg.build_target("postgresql://app:s3cret@db/rag?nonsense_option=1")
    assert "s3cret" not in str(caught.value)


def test_bin_dir_override_and_bundled_default(tmp_path: Path) -> None:
    assert pg.find_pg_bin({pg.PG_BIN_ENV: str(tmp_path)}) == tmp_path
    bundled = pg.find_pg_bin({})
    assert (bundled / "pg_dump").is_file()
    assert (bundled / "pg_restore").is_file()
    with pytest.raises(BackupError, match="pg_dump not found"):
        pg.tool_path(tmp_path, "pg_dump")
