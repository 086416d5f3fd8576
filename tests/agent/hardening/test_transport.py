"""Transport: forwarded headers believed only from configured proxies, /docs off in production.

Requests go through the ASGI app exactly as uvicorn serves it (``server.build_config`` and
``Config.load``, so uvicorn's own ProxyHeadersMiddleware wraps the app when it should),
from a chosen peer address, to the real app on the real embedded PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from ragagent.api.middleware import API_CSP
from ragagent.core import server
from ragagent.core.config import ConfigError, Settings, load_settings
from tests.agent.hardening.harness import RunningApp, build_settings, running_app

PROXY = "10.20.0.7"
STRANGER = "198.51.100.23"
HSTS = "strict-transport-security"
# One anonymous chat-scope request a minute per client address.
ONE_A_MINUTE = {"auth_disabled": True, "rate_limit_scopes": "chat=1/0"}


@asynccontextmanager
async def served(
    running: RunningApp, settings: Settings, peer: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose connections come from ``peer``, to the app as uvicorn wraps it."""
    config = server.build_config(running.app, settings)
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(peer, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        yield client


async def test_hsts_is_sent_when_a_trusted_proxy_forwards_https(db_url: str, data_dir: str) -> None:
    settings = build_settings(db_url, data_dir, forwarded_allow_ips="10.20.0.0/16")
    async with running_app(settings) as running:
        async with served(running, settings, PROXY) as client:
            response = await client.get("/livez", headers={"X-Forwarded-Proto": "https"})
            assert response.headers[HSTS].startswith("max-age=31536000")
            plain = await client.get("/livez", headers={"X-Forwarded-Proto": "http"})
            assert HSTS not in plain.headers
        async with served(running, settings, STRANGER) as client:
            forged = await client.get("/livez", headers={"X-Forwarded-Proto": "https"})
            assert HSTS not in forged.headers


async def test_by_default_no_peer_is_trusted_not_even_loopback(db_url: str, data_dir: str) -> None:
    settings = build_settings(db_url, data_dir)
    assert settings.forwarded_allow_ips == []
    async with running_app(settings) as running, served(running, settings, "127.0.0.1") as client:
        response = await client.get("/livez", headers={"X-Forwarded-Proto": "https"})
        assert HSTS not in response.headers


async def statuses_and_logged_clients(
    settings: Settings, peer: str, forwarded: list[str], caplog: pytest.LogCaptureFixture
) -> tuple[list[int], set[str]]:
    """Statuses of rate-limited requests from ``peer`` claiming each forwarded address,
    and the client addresses the access log recorded for them."""
    caplog.set_level(logging.INFO, logger="ragagent.access")
    async with running_app(settings) as running, served(running, settings, peer) as client:
        statuses = [
            (await client.get("/v1/conversations", headers={"X-Forwarded-For": ip})).status_code
            for ip in forwarded
        ]
    access = [r for r in caplog.records if r.name == "ragagent.access"]
    return statuses, {getattr(r, "client", "") for r in access}


async def test_a_stranger_cannot_pick_its_rate_limit_identity_or_logged_address(
    db_url: str, data_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = build_settings(db_url, data_dir, forwarded_allow_ips=PROXY, **ONE_A_MINUTE)
    claimed = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
    statuses, clients = await statuses_and_logged_clients(settings, STRANGER, claimed, caplog)
    assert statuses == [200, 429, 429]
    assert clients == {STRANGER}


async def test_a_trusted_proxy_passes_on_each_client_address(
    db_url: str, data_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = build_settings(db_url, data_dir, forwarded_allow_ips=PROXY, **ONE_A_MINUTE)
    claimed = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.1"]
    statuses, clients = await statuses_and_logged_clients(settings, PROXY, claimed, caplog)
    assert statuses == [200, 200, 200, 429]
    assert clients == set(claimed)


@pytest.mark.parametrize("value", ["*", "ingress-nginx", "10.0.0.0/33"])
def test_proxy_addresses_must_be_addresses_or_cidrs(value: str) -> None:
    with pytest.raises(ConfigError, match="RAGAGENT_FORWARDED_ALLOW_IPS"):
        load_settings(forwarded_allow_ips=value)


async def test_production_serves_no_docs_and_no_cdn_in_its_csp(db_url: str, data_dir: str) -> None:
    settings = build_settings(db_url, data_dir, environment="production")
    async with running_app(settings) as running:
        for path in ("/docs", "/docs/oauth2-redirect", "/redoc"):
            response = await running.client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-security-policy"] == API_CSP
            assert "https://" not in response.text
    assert "https:" not in API_CSP


async def test_docs_stay_in_development_and_by_explicit_choice(db_url: str, data_dir: str) -> None:
    for overrides in ({}, {"environment": "production", "docs_enabled": True}):
        async with running_app(build_settings(db_url, data_dir, **overrides)) as running:
            response = await running.client.get("/docs")
            assert response.status_code == 200
            assert "swagger-ui" in response.text
