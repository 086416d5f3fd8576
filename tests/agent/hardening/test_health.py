"""Probes: liveness always answers; readiness names what is wrong with a 503."""

from __future__ import annotations

import psycopg
from psycopg import sql

from tests.agent.hardening.harness import bearer, build_settings, build_token, running_app


async def test_ready_when_database_migrations_and_llm_are_fine(db_url: str, data_dir: str) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        live = await running.client.get("/livez")
        assert live.status_code == 200
        assert live.json() == {"status": "ok"}
        for path in ("/readyz", "/healthz"):
            ready = await running.client.get(path)
            assert ready.status_code == 200
            assert ready.json() == {
                "status": "ready",
                "checks": {
                    "draining": "no",
                    "database": "ok",
                    "migrations": "at head",
                    "llm": "ok",
                },
            }


async def test_not_ready_while_a_migration_is_pending(db_url: str, data_dir: str) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        async with running.state.db.connection() as conn:
            await conn.execute("DELETE FROM schema_migrations WHERE version = '0003'")
        ready = await running.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["migrations"] == "1 pending"


async def test_not_ready_without_a_configured_llm(db_url: str, data_dir: str) -> None:
    settings = build_settings(db_url, data_dir, llm_provider="openai")
    async with running_app(settings) as running:
        ready = await running.client.get("/readyz")
        assert ready.status_code == 503
        assert "OPENAI" in ready.json()["checks"]["llm"]


async def test_database_outage_is_503_with_retry_after(db_url: str, data_dir: str) -> None:
    settings = build_settings(db_url, data_dir, db_pool_timeout_seconds=1.0)
    name = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    admin = db_url.replace(f"/{name}?", "/postgres?")
    async with running_app(settings) as running:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                    sql.Identifier(str(name))
                )
            )
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        try:
            ready = await running.client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "unreachable"
            headers = bearer(build_token(sub="alice"))
            api = await running.client.get("/v1/conversations", headers=headers)
            assert api.status_code == 503
            assert api.headers["content-type"] == "application/problem+json"
            assert int(api.headers["retry-after"]) >= 1
            assert (await running.client.get("/livez")).status_code == 200
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                        sql.Identifier(str(name))
                    )
                )
