"""The database a CLI command works on: the configured one, or the embedded server.

One opener for every sub-command (ingest, sync, reindex, apikey, usage), so each finds the
same database ``serve`` would and leaves it migrated to head the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import migrate as migrations


@asynccontextmanager
async def open_database(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Database]:
    """The configured or embedded database, migrated to head unless ``migrate`` is False."""
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
    else:
        # Imported here: a command against a configured database never loads pgserver.
        from ragagent.core.embedded_pg import start_embedded

        url = (await asyncio.to_thread(start_embedded, settings.data_dir)).url
    db = await Database.open(url, settings)
    try:
        if migrate:
            await migrations.migrate(db)
        yield db
    finally:
        await db.close()
