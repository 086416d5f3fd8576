"""Every endpoint refuses every bad credential; built from the app's own route table.

A route is protected when its dependencies include a scope check
(``ChatUser``/``IngestUser``/``AdminUser``). Any route without one must be in
``PUBLIC_ROUTES``, so an endpoint added later without auth fails this test.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute
from starlette.websockets import WebSocketDisconnect

from ragagent.core.metrics import AUTH_FAILURES
from ragagent.state import AppState
from tests.agent.hardening.harness import (
    SECRET,
    RunningApp,
    bearer,
    build_settings,
    build_token,
    create_key,
    running_app,
)

PUBLIC_ROUTES = {
    "/livez",
    "/readyz",
    "/healthz",
    "/",
    "/static/{name}",
    "/favicon.ico",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
}
OTHER_SCOPES = {"chat": ["ingest"], "ingest": ["chat"], "admin": ["chat", "ingest"]}


def _scopes_in(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        name = getattr(dependency.call, "__name__", "")
        if name.startswith("require_"):
            yield name.removeprefix("require_")
        yield from _scopes_in(dependency)


def required_scope(route: APIRoute) -> str | None:
    return next(_scopes_in(route.dependant), None)


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    scope: str

    def path(self) -> str:
        parts = self.template.split("/")
        return "/".join(str(uuid.uuid4()) if p.startswith("{") else p for p in parts)


def all_routes(app: FastAPI) -> list[BaseRoute]:
    """Every route with its full path, through included routers."""
    return [context.original_route for context in iter_route_contexts(app.routes)]


def protected_endpoints(app: FastAPI) -> list[Endpoint]:
    found: list[Endpoint] = []
    for route in all_routes(app):
        if isinstance(route, APIRoute) and (scope := required_scope(route)):
            found.extend(
                Endpoint(m, route.path, scope) for m in sorted((route.methods or set()) - {"HEAD"})
            )
    return found


def unprotected_paths(app: FastAPI) -> set[str]:
    return {
        str(getattr(route, "path", route))
        for route in all_routes(app)
        if not isinstance(route, APIWebSocketRoute)
        and not (isinstance(route, APIRoute) and required_scope(route))
    }


@dataclass(frozen=True)
class Case:
    name: str
    headers: dict[str, str]
    expected: int


async def build_cases(running: RunningApp, scope: str) -> list[Case]:
    state = running.state
    wrong_scope_key = await create_key(state, scopes=OTHER_SCOPES[scope])
    revoked_key = await create_key(state, scopes=[scope], revoked=True)
    wrong_scope_jwt = build_token(scope=" ".join(OTHER_SCOPES[scope]))
    forged_key = "rag_" + wrong_scope_key.split("_")[1] + "_forged-" + "A" * 36
    return [
        Case("no credentials", {}, 401),
        Case("bad signature", bearer(build_token(secret="another-secret-" + "y" * 30)), 401),
        Case("expired", bearer(build_token(exp_in=-3600)), 401),
        Case("wrong audience", bearer(build_token(audience="someone-else")), 401),
        Case("wrong issuer", bearer(build_token(issuer="https://evil.test")), 401),
        Case("not yet valid", bearer(build_token(nbf_in=3600)), 401),
        Case("garbage bearer", bearer("not-a-token"), 401),
        Case("basic auth scheme", {"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        Case("forged api key", bearer(forged_key), 401),
        Case("revoked key", bearer(revoked_key), 401),
        Case("wrong scope (key)", bearer(wrong_scope_key), 403),
        Case("wrong scope (jwt)", bearer(wrong_scope_jwt), 403),
    ]


async def valid_headers(running: RunningApp, scope: str) -> list[dict[str, str]]:
    key = await create_key(running.state, scopes=[scope], user=f"user-{scope}")
    return [
        bearer(key),
        {"X-API-Key": key},
        bearer(build_token(sub=f"jwt-{scope}", scope=scope)),
        bearer(build_token(sub="skewed", scope=scope, exp_in=-5)),  # inside the 30 s leeway
    ]


async def send(running: RunningApp, endpoint: Endpoint, headers: dict[str, str]) -> int:
    body: dict[str, str] | None = {} if endpoint.method in ("POST", "PUT", "PATCH") else None
    response = await running.client.request(
        endpoint.method, endpoint.path(), headers=headers, json=body
    )
    if response.status_code in (401, 403):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == response.status_code
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    return response.status_code


async def test_every_protected_endpoint_refuses_bad_credentials(db_url: str, data_dir: str) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        endpoints = protected_endpoints(running.app)
        assert {e.scope for e in endpoints} >= {"chat", "ingest"}
        assert unprotected_paths(running.app) <= PUBLIC_ROUTES
        cases = {scope: await build_cases(running, scope) for scope in OTHER_SCOPES}
        valid = {scope: await valid_headers(running, scope) for scope in OTHER_SCOPES}
        wrong, checked = [], 0
        for endpoint in endpoints:
            for case in cases[endpoint.scope]:
                status = await send(running, endpoint, case.headers)
                checked += 1
                if status != case.expected:
                    wrong.append(f"{endpoint} {case.name}: {status} != {case.expected}")
            for headers in valid[endpoint.scope]:
                status = await send(running, endpoint, headers)
                checked += 1
                if status in (401, 403) or status >= 500:
                    wrong.append(f"{endpoint} valid credential: {status}")
    print(f"auth matrix: {len(endpoints)} endpoints, {checked} requests, {len(wrong)} wrong")
    assert not wrong, "\n".join(wrong)


async def test_auth_failures_are_counted_by_reason(db_url: str, data_dir: str) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        before = {
            r: AUTH_FAILURES.labels(reason=r)._value.get()
            for r in ("expired", "wrong_audience", "missing", "bad_signature")
        }
        client = running.client
        await client.get("/v1/conversations", headers=bearer(build_token(exp_in=-3600)))
        await client.get("/v1/conversations", headers=bearer(build_token(audience="x")))
        await client.get("/v1/conversations")
        await client.get("/v1/conversations", headers=bearer(build_token(secret="z" * 40)))
        for reason, value in before.items():
            assert AUTH_FAILURES.labels(reason=reason)._value.get() == value + 1, reason


async def test_someone_elses_conversation_is_not_found(db_url: str, data_dir: str) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        client = running.client
        alice, bob = bearer(build_token(sub="alice")), bearer(build_token(sub="bob"))
        created = await client.post("/v1/chat", json={"message": "hello"}, headers=alice)
        assert created.status_code == 200, created.text
        conversation = created.json()["conversation_id"]
        path = f"/v1/conversations/{conversation}"
        assert (await client.get(path, headers=alice)).status_code == 200
        assert (await client.get(path, headers=bob)).status_code == 404
        assert (await client.delete(path, headers=bob)).status_code == 404
        follow_up = {"message": "and then?", "conversation_id": conversation}
        assert (await client.post("/v1/chat", json=follow_up, headers=bob)).status_code == 404
        listed = (await client.get("/v1/conversations", headers=bob)).json()
        assert conversation not in {c["id"] for c in listed["conversations"]}
        assert (await client.get(path, headers=alice)).status_code == 200


async def test_development_without_auth_is_anonymous_until_a_key_exists(
    db_url: str, data_dir: str
) -> None:
    settings = build_settings(
        db_url, data_dir, jwt_issuer=None, jwt_audience=None, jwt_hs256_secret=None
    )
    async with running_app(settings) as running:
        assert (await running.client.get("/v1/conversations")).status_code == 200
        key = await create_key(running.state, scopes=["chat"])
        assert (await running.client.get("/v1/conversations")).status_code == 401
        assert (
            await running.client.get("/v1/conversations", headers=bearer(key))
        ).status_code == 200


async def test_production_never_allows_anonymous(db_url: str, data_dir: str) -> None:
    settings = build_settings(
        db_url,
        data_dir,
        environment="production",
        jwt_issuer=None,
        jwt_audience=None,
        jwt_hs256_secret=None,
    )
    async with running_app(settings) as running:
        assert (await running.client.get("/v1/conversations")).status_code == 401
        key = await create_key(running.state, scopes=["chat"])
        response = await running.client.get("/v1/conversations", headers=bearer(key))
        assert response.status_code == 200


def test_websocket_authenticates_before_accepting(db_url: str, data_dir: str) -> None:
    app_settings = build_settings(db_url, data_dir)
    from ragagent.main import create_app

    with TestClient(create_app(app_settings)) as client:
        state = AppState.of(client.app)  # type: ignore[arg-type]
        assert state is not None
        assert client.portal is not None
        ingest_only = client.portal.call(lambda: create_key(state, scopes=["ingest"]))
        revoked = client.portal.call(lambda: create_key(state, scopes=["chat"], revoked=True))
        refused = {
            "no credentials": {},
            "expired": {"headers": bearer(build_token(exp_in=-3600))},
            "wrong audience": {"headers": bearer(build_token(audience="x"))},
            "bad signature": {
                "subprotocols": ["ragagent", "bearer." + build_token(secret="q" * 40)]
            },
            "wrong scope": {"headers": bearer(ingest_only)},
            "revoked": {"subprotocols": ["ragagent", f"bearer.{revoked}"]},
        }
        for name, kwargs in refused.items():
            with (
                pytest.raises(WebSocketDisconnect) as closed,
                client.websocket_connect("/v1/ws/chat", **kwargs),  # type: ignore[arg-type]
            ):
                pass
            assert closed.value.code == 1008, name
        token = build_token(sub="ws-user", scope="chat")
        with client.websocket_connect(
            "/v1/ws/chat", subprotocols=["ragagent", f"bearer.{token}"]
        ) as ws:
            assert ws.accepted_subprotocol == "ragagent"
            ws.send_json({"message": "hello"})
            frames = [ws.receive_json() for _ in range(3)]
            while frames[-1]["type"] != "done":
                frames.append(ws.receive_json())
        assert SECRET not in str(frames)


async def test_startup_warns_loudly_only_when_anyone_may_call(
    db_url: str, data_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    open_settings = build_settings(
        db_url, data_dir, jwt_issuer=None, jwt_audience=None, jwt_hs256_secret=None
    )
    with caplog.at_level(logging.INFO, logger="ragagent.services.auth"):
        async with running_app(open_settings):
            pass
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert any("AUTHENTICATION IS OFF" in r.getMessage() for r in warnings)
        caplog.clear()
        async with running_app(build_settings(db_url, data_dir)):
            pass
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("authentication enforced" in r.getMessage() for r in caplog.records)
