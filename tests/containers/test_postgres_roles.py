"""The managed PostgreSQL image, run as its rendered pod: the agent's role is no superuser.

The entrypoint creates the application role the agent's URL names, gives it its database,
and has the superuser create the vector extension once. The agent's migrations then run
as that role, which owns what they create and can do nothing a superuser alone may.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
import pytest

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import migrate
from ragagent_operator.render import postgres
from tests.support.podrun import runner

pytestmark = pytest.mark.containers
# Each needs a superuser (or a privilege the application role was not given).
REFUSED = {
    "read-password-hashes": "SELECT rolpassword FROM pg_authid",
    "drop-the-extension": "DROP EXTENSION vector",
    "create-a-database": "CREATE DATABASE other",
    "create-a-role": "CREATE ROLE intruder",
    "run-a-program": "COPY (SELECT 1) TO PROGRAM 'true'",
    "change-the-server": "ALTER SYSTEM SET log_statement = 'all'",
}


async def test_migrations_run_as_the_application_role_which_owns_their_tables(
    database: runner.Container, host_db_url: str
) -> None:
    db = await Database.open(host_db_url, Settings(database_url=host_db_url))
    try:
        await migrate.migrate(db)
    finally:
        await db.close()
    with psycopg.connect(host_db_url) as conn:
        user, superuser = conn.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() or ("", True)
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        (extension_owner,) = conn.execute(
            "SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'vector'"
        ).fetchone() or ("",)
    assert user == postgres.DB_USER == urlsplit(host_db_url).username
    assert superuser is False
    assert owners == [(postgres.DB_USER,)]
    assert extension_owner == postgres.DB_SUPERUSER


@pytest.mark.parametrize("statement", REFUSED.values(), ids=REFUSED.keys())
def test_the_application_role_cannot_do_what_only_a_superuser_may(
    database: runner.Container, host_db_url: str, statement: str
) -> None:
    with (
        psycopg.connect(host_db_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)
