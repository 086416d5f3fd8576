"""Fixtures for the backup tests, on the shared embedded PostgreSQL (fixtures_pg).

Backup tests need several databases at once (a source and restore targets),
so ``new_database`` creates as many as a test asks for; all are dropped after.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ragagent.core.embedded_pg import EmbeddedPostgres
from tests.support import seaweedfs, tools
from tests.support.fixtures_cluster import skip_loudly_or_fail


def _admin(server: EmbeddedPostgres, statement: sql.Composed) -> None:
    with psycopg.connect(server.url_for("postgres"), autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture
def new_database(pg_server: EmbeddedPostgres) -> Iterator[Callable[[], str]]:
    """Creates an empty database with pgvector on each call and returns its URL."""
    names: list[str] = []

    def create() -> str:
        names.append(f"bk_{uuid.uuid4().hex[:12]}")
        _admin(pg_server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(names[-1])))
        url = pg_server.url_for(names[-1])
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return url

    yield create
    for name in names:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        _admin(pg_server, drop)


@pytest.fixture
def db_url(new_database: Callable[[], str]) -> str:
    return new_database()


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    return tmp_path / "backups"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[seaweedfs.S3Server]:
    """A real SeaweedFS S3 server for the session; skips loudly (fails in CI) without weed."""
    try:
        seaweedfs.weed_binary()
    except tools.ToolsMissingError as exc:
        skip_loudly_or_fail(f"!!! SEAWEEDFS MISSING: bucket backup tests NOT RUN !!! {exc}")
    with seaweedfs.running_s3(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server
