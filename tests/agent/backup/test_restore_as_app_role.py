"""Backup and restore as the managed database's application role: a role that owns its
database and tables but not the vector extension, which the superuser created.

A forced restore (--clean) would drop the extension, and the dump comments on it; both
need its owner. Restore leaves out the entries of extensions the target already has.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ragagent.core.embedded_pg import EmbeddedPostgres
from tests.agent.backup import agentdata
from tests.agent.backup.cli import run

pytestmark = pytest.mark.db


@pytest.fixture
def app_database(pg_server: EmbeddedPostgres) -> Iterator[Callable[[], str]]:
    """Databases laid out as the managed one: the superuser creates the extension and hands
    the database to a non-superuser role; returns URLs that log in as that role."""
    role = f"app_{uuid.uuid4().hex[:12]}"
    names: list[str] = []
    admin = pg_server.url_for("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(role)))

    def create() -> str:
        names.append(f"app_{uuid.uuid4().hex[:12]}")
        name = sql.Identifier(names[-1])
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(name, sql.Identifier(role)))
        with psycopg.connect(pg_server.url_for(names[-1]), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
        return psycopg.conninfo.make_conninfo(pg_server.url_for(names[-1]), user=role)

    yield create
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


async def test_the_application_role_backs_up_and_force_restores_its_database(
    app_database: Callable[[], str], backups: Path
) -> None:
    source, target = app_database(), app_database()
    with psycopg.connect(source) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    assert row == (False,)
    db = await agentdata.open_migrated(source)
    await agentdata.add_conversation(db, "someone", 2)
    await db.close()
    made = run("backup", "--dir", str(backups), "--database-url", source)
    assert made.exit_code == 0, made.stdout
    backup = made.report["backup"]
    first = run("restore", backup, "--database-url", target)
    assert first.exit_code == 0, first.stdout
    # Forced over the restored tables: --clean drops what the role owns, not the extension.
    forced = run("restore", backup, "--database-url", target, "--force")
    assert forced.exit_code == 0, forced.stdout
    assert agentdata.table_digest(target) == agentdata.table_digest(source)
