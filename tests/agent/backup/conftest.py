"""Fixtures for the backup tests: a real embedded PostgreSQL and fresh databases.

One server for the whole session (starting one takes seconds); every test gets
its own databases, created with a unique name, so tests never see each other's
rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from ragagent.core.embedded_pg import EmbeddedPostgres, ensure_database, start_embedded


@pytest.fixture(scope="session")
def backup_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = start_embedded(tmp_path_factory.mktemp("backup-pg"), delete_on_exit=True)
    yield server
    server.stop()


@pytest.fixture
def new_database(backup_pg: EmbeddedPostgres) -> Callable[[], str]:
    """Creates an empty database with pgvector on each call and returns its URL."""

    def create() -> str:
        name = f"bk_{uuid.uuid4().hex[:12]}"
        ensure_database(backup_pg.url, name)
        url = backup_pg.url_for(name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return url

    return create


@pytest.fixture
def db_url(new_database: Callable[[], str]) -> str:
    return new_database()


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    return tmp_path / "backups"
