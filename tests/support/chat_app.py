"""Helpers for chat integration tests: the real app on a fresh embedded-PostgreSQL database.

``chat_app_factory`` builds ``create_app(Settings(...))`` against the function's
fresh database (A-data's ``pg_url`` fixture) with test-friendly settings, wraps
it in Starlette's TestClient (so the lifespan runs: migrations, MiniLM, limiter)
and closes it at the end of the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragagent.core import security
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import apikeys
from ragagent.main import create_app
from ragagent.state import AppState
from tests.support.fake_openai import ServerThread
from tests.support.fixtures_pg import build_test_settings

ClientFactory = Callable[..., TestClient]


def chat_settings(pg_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """A-data's test settings, with the offline extractive answerer unless overridden."""
    return build_test_settings(pg_url, data_dir, **{"llm_provider": "extractive", **overrides})


@pytest.fixture
def chat_app_factory(pg_url: str, tmp_path: Path) -> Iterator[ClientFactory]:
    """Call with Settings overrides; returns a started TestClient."""
    clients: list[TestClient] = []

    def factory(**overrides: Any) -> TestClient:
        client = TestClient(create_app(chat_settings(pg_url, tmp_path, **overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def chat_client(chat_app_factory: ClientFactory) -> TestClient:
    """The app with the extractive answerer and authentication disabled."""
    return chat_app_factory()


def app_state(client: TestClient) -> AppState:
    state = AppState.of(client.app)  # type: ignore[arg-type]
    assert state is not None, "the client has not started the app"
    return state


def create_key(
    client: TestClient, user_id: str, scopes: tuple[str, ...] = ("chat", "ingest")
) -> str:
    """A real API key for ``user_id``, stored through the app's own database pool."""
    state = app_state(client)
    prefix, key = security.generate_api_key()
    key_hash = security.build_key_hash(security.api_key_pepper(state.settings), key)

    async def insert() -> None:
        await apikeys.insert_key(
            state.db,
            name=user_id,
            prefix=prefix,
            key_hash=key_hash,
            user_id=user_id,
            scopes=list(scopes),
        )

    assert client.portal is not None
    client.portal.call(insert)
    return key


def ingest(
    client: TestClient,
    *,
    external_id: str,
    title: str,
    text: str,
    headers: dict[str, str] | None = None,
) -> None:
    response = client.post(
        "/v1/documents",
        json={
            "external_id": external_id,
            "title": title,
            "text": text,
            "content_type": "text/markdown",
        },
        headers=headers or {},
    )
    assert response.status_code in (200, 201), response.text


@dataclass(frozen=True)
class LiveAgent:
    """The app served by real uvicorn, with a real API key for user ``tester``."""

    url: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def insert_key(settings: Settings, user_id: str) -> str:
    """A real API key for ``user_id``, written straight to the (migrated) database."""
    assert settings.database_url is not None
    db = await Database.open(settings.database_url.get_secret_value(), settings)
    prefix, key = security.generate_api_key()
    key_hash = security.build_key_hash(security.api_key_pepper(settings), key)
    try:
        await apikeys.insert_key(
            db,
            name=user_id,
            prefix=prefix,
            key_hash=key_hash,
            user_id=user_id,
            scopes=["chat", "ingest"],
        )
    finally:
        await db.close()
    return key


@pytest.fixture
def live_agent_factory(pg_url: str, tmp_path: Path) -> Iterator[Callable[..., LiveAgent]]:
    """Call with Settings overrides; returns the app served by real uvicorn, auth enforced."""
    servers: list[ServerThread] = []

    def factory(**overrides: Any) -> LiveAgent:
        settings = chat_settings(pg_url, tmp_path, **{"auth_disabled": False, **overrides})
        server = ServerThread(create_app(settings), lifespan="on").__enter__()
        servers.append(server)
        # A thread of its own, since a caller (e.g. sync Playwright) may already run a loop.
        with ThreadPoolExecutor(1) as pool:
            key = pool.submit(asyncio.run, insert_key(settings, "tester")).result()
        return LiveAgent(server.url, key)

    yield factory
    for server in servers:
        server.__exit__()
