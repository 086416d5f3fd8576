"""What a CLI sub-command starts from: its settings, and the database it works on (the
configured one, or the embedded server).

One opener for every sub-command (ingest, sync, reindex, apikey, usage), so each finds the
same database ``serve`` would and leaves it migrated to head the same way; one settings
loader for those that stop on a bad configuration as on a usage error (apikey, index).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import typer

from ragagent.core.config import ConfigError, Settings, load_settings, settings_class
from ragagent.core.db import Database
from ragagent.db import migrate as migrations

EXIT_USAGE: Final = 2


def load_command_settings(command: str) -> Settings:
    """The settings sub-command ``command`` needs (``settings_class`` says which); an invalid
    configuration is printed to stderr and exits 2, as a usage error does."""
    try:
        return load_settings(settings_class(command))
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None


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
