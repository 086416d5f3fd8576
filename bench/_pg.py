"""A throwaway embedded PostgreSQL for benchmarks (or DATABASE_URL when set)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.embedded_pg import start_embedded
from ragagent.db import migrate


@asynccontextmanager
async def bench_database(settings: Settings) -> AsyncIterator[Database]:
    """A migrated, empty database; the embedded one is deleted afterwards.

    With BENCH_DATABASE_URL set, that (empty, pgvector-enabled) database is used instead.
    """
    url = os.environ.get("BENCH_DATABASE_URL")
    server = None
    if url is None:
        server = start_embedded(
            Path(tempfile.mkdtemp(prefix="ragagent-bench-")), delete_on_exit=True
        )
        url = server.url
    db = await Database.open(url, settings)
    try:
        await migrate.migrate(db)
        yield db
    finally:
        await db.close()
        if server is not None:
            server.stop()
