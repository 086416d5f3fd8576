"""Building blocks for the hardening tests: a real app on a real database, credentials.

Every app runs its real lifespan (embedded PostgreSQL database, migrations,
local embedder, extractive answerer) and is reached through httpx's ASGI
transport, so requests cross the full middleware stack.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt
from fastapi import FastAPI

from ragagent.core import security
from ragagent.core.config import Settings
from ragagent.db import apikeys
from ragagent.main import create_app
from ragagent.state import AppState

SECRET = "hardening-test-secret-" + "x" * 24
# HS256 tokens have their own key: SECRET (the API-key pepper) never verifies a token.
JWT_SECRET = "hardening-test-jwt-secret-" + "j" * 24
ISSUER = "https://issuer.test"
AUDIENCE = "ragagent-tests"


def build_settings(db_url: str, data_dir: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "metrics_port": 0,
        "ingest_samples_on_start": False,
        "secret_key": SECRET,
        "jwt_hs256_secret": JWT_SECRET,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "llm_provider": "extractive",
        **overrides,
    }
    # Production refuses '*' hosts: name the host running_app's client calls. An explicit
    # trusted_hosts=None leaves the setting unset (its default).
    if values.get("environment") == "production":
        values.setdefault("trusted_hosts", "testserver")
    if "trusted_hosts" in values and values["trusted_hosts"] is None:
        del values["trusted_hosts"]
    return Settings(**values)


@dataclass
class RunningApp:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def state(self) -> AppState:
        state = AppState.of(self.app)
        assert state is not None, "the lifespan has not started"
        return state


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[RunningApp]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield RunningApp(app=app, client=client)


def build_token(
    *,
    sub: str = "alice",
    scope: str = "chat ingest admin",
    secret: str = JWT_SECRET,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    exp_in: float = 300,
    nbf_in: float | None = None,
) -> str:
    now = time.time()
    claims: dict[str, Any] = {
        "sub": sub,
        "scope": scope,
        "iss": issuer,
        "aud": audience,
        "iat": int(now),
        "exp": int(now + exp_in),
    }
    if nbf_in is not None:
        claims["nbf"] = int(now + nbf_in)
    return jwt.encode(claims, secret, algorithm="HS256")


async def create_key(
    state: AppState,
    *,
    scopes: list[str],
    user: str | None = None,
    revoked: bool = False,
    expires_in: timedelta | None = None,
) -> str:
    """Insert an API key the way the CLI does and return its clear value."""
    prefix, key = security.generate_api_key()
    record = await apikeys.insert_key(
        state.db,
        name=f"test-{'-'.join(scopes)}",
        prefix=prefix,
        key_hash=security.build_key_hash(security.api_key_pepper(state.settings), key),
        user_id=user,
        scopes=scopes,
        expires_in=expires_in,
    )
    if revoked:
        assert await apikeys.revoke(state.db, record.id)
    return key


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
