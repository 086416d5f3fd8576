"""Work before authentication is bounded: a per-client limit, a memory of unknown API-key
prefixes, and a readiness check shared by every probe within its window.

Real app, real lifespan, real embedded PostgreSQL. Database reads are counted through the
agent's own metrics (``ragagent_auth_lookups_total``, ``ragagent_readiness_checks_total``).
"""

from __future__ import annotations

import asyncio
import secrets

from ragagent.core import security
from ragagent.core.metrics import REGISTRY
from ragagent.db import apikeys
from tests.agent.hardening.harness import bearer, build_settings, create_key, running_app


def lookups(source: str) -> float:
    value = REGISTRY.get_sample_value("ragagent_auth_lookups_total", {"source": source})
    return value or 0.0


def readiness_checks() -> float:
    return REGISTRY.get_sample_value("ragagent_readiness_checks_total") or 0.0


def bogus_key(prefix: str) -> str:
    return f"{security.KEY_MARKER}_{prefix}_{secrets.token_urlsafe(32)}"


async def test_repeated_bogus_keys_cost_one_lookup_per_prefix(db_url: str, data_dir: str) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        real = await create_key(running.state, scopes=["chat"])
        assert (await running.client.get("/v1/conversations", headers=bearer(real))).is_success
        prefixes = [secrets.token_hex(6) for _ in range(3)]
        before, cached = lookups("database"), lookups("negative_cache")
        for prefix in prefixes:
            for _ in range(10):
                response = await running.client.get(
                    "/v1/conversations", headers=bearer(bogus_key(prefix))
                )
                assert response.status_code == 401
        assert lookups("database") - before == len(prefixes)
        assert lookups("negative_cache") - cached == 27
        assert (await running.client.get("/v1/conversations", headers=bearer(real))).is_success


async def test_a_key_created_after_its_prefix_was_tried_works_once_the_ttl_ends(
    db_url: str, data_dir: str
) -> None:
    settings = build_settings(db_url, data_dir, apikey_negative_cache_seconds=0.5)
    async with running_app(settings) as running:
        await create_key(running.state, scopes=["chat"])  # authentication is now enforced
        prefix, key = security.generate_api_key()
        tried = await running.client.get("/v1/conversations", headers=bearer(key))
        assert tried.status_code == 401
        await apikeys.insert_key(
            running.state.db,
            name="late",
            prefix=prefix,
            key_hash=security.build_key_hash(security.api_key_pepper(running.state.settings), key),
            user_id=None,
            scopes=["chat"],
        )
        await asyncio.sleep(0.6)
        assert (await running.client.get("/v1/conversations", headers=bearer(key))).is_success


async def test_a_client_over_the_preauth_limit_gets_429_before_authentication(
    db_url: str, data_dir: str
) -> None:
    settings = build_settings(db_url, data_dir, preauth_requests_per_minute=5, preauth_burst=0)
    async with running_app(settings) as running:
        await create_key(running.state, scopes=["chat"])
        before = lookups("database") + lookups("negative_cache")
        statuses = [
            (
                await running.client.get("/v1/conversations", headers=bearer(bogus_key("ab")))
            ).status_code
            for _ in range(8)
        ]
        assert statuses == [401] * 5 + [429] * 3
        assert lookups("database") + lookups("negative_cache") - before == 5
        refused = await running.client.get("/v1/conversations")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "RAGAGENT_PREAUTH_REQUESTS_PER_MINUTE" in refused.json()["detail"]
        assert (await running.client.get("/livez")).status_code == 200
        assert (await running.client.get("/readyz")).status_code == 200


async def test_concurrent_probes_share_one_readiness_check(db_url: str, data_dir: str) -> None:
    settings = build_settings(db_url, data_dir, readiness_cache_seconds=2.0)
    async with running_app(settings) as running:
        await asyncio.sleep(2.1)  # past any check the start-up made
        before = readiness_checks()
        probes = await asyncio.gather(*(running.client.get("/readyz") for _ in range(50)))
        assert {probe.status_code for probe in probes} == {200}
        assert readiness_checks() - before == 1
        await asyncio.sleep(2.1)
        assert (await running.client.get("/healthz")).status_code == 200
        assert readiness_checks() - before == 2


async def test_a_draining_replica_is_unready_at_once_despite_the_cache(
    db_url: str, data_dir: str
) -> None:
    settings = build_settings(db_url, data_dir, readiness_cache_seconds=10.0)
    async with running_app(settings) as running:
        assert (await running.client.get("/readyz")).status_code == 200
        running.state.draining = True
        assert (await running.client.get("/readyz")).status_code == 503
        running.state.draining = False
