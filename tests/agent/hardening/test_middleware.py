"""The middleware stack: errors as problem+json, size caps, hosts, CORS, headers, draining."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from ragagent.api.middleware import CHAT_PAGE_CSP
from tests.agent.hardening.harness import (
    bearer,
    build_settings,
    build_token,
    running_app,
)

PROBLEM = "application/problem+json"


def alice() -> dict[str, str]:
    """A fresh token per request: one made at import expires (300 s) before a late test
    runs, as it did under pytest-xdist, and the test then gets 401 instead of its status."""
    return bearer(build_token(sub="alice"))


async def test_unexpected_errors_are_a_bare_500_logged_with_the_request_id(
    db_url: str, data_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:

        async def explode() -> None:
            raise RuntimeError("internal detail: password=hunter2 at /srv/app.py")

        running.app.add_api_route("/test-explode", explode)
        with caplog.at_level(logging.ERROR):
            response = await running.client.get(
                "/test-explode", headers={"X-Request-ID": "trace-me-42"}
            )
        assert response.status_code == 500
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["request_id"] == "trace-me-42" == response.headers["x-request-id"]
        assert set(body) == {"type", "title", "status", "detail", "instance", "request_id"}
        assert "hunter2" not in response.text
        assert "Traceback" not in response.text
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert any(getattr(r, "request_id", "") == "trace-me-42" and r.exc_info for r in errors)


async def test_validation_errors_are_422_problems_that_do_not_echo_input(
    db_url: str, data_dir: str
) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        secret_text = "do-not-echo-" + "z" * 20
        response = await running.client.post(
            "/v1/chat", json={"message": 12345, "stream": secret_text}, headers=alice()
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["status"] == 422
        assert body["errors"]
        assert all(set(error) == {"loc", "msg"} for error in body["errors"])
        assert secret_text not in response.text
        malformed = await running.client.post(
            "/v1/chat",
            content=b'{"message": ',
            headers={**alice(), "Content-Type": "application/json"},
        )
        assert malformed.status_code == 422
        assert malformed.headers["content-type"] == PROBLEM


async def test_unknown_routes_and_methods_are_problems(db_url: str, data_dir: str) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        missing = await running.client.get("/v1/nothing-here")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == PROBLEM
        wrong_method = await running.client.put("/livez")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["status"] == 405


async def test_request_bodies_over_the_cap_get_413(db_url: str, data_dir: str) -> None:
    settings = build_settings(db_url, data_dir, max_request_body_bytes=1000)
    async with running_app(settings) as running:
        big = b'{"message": "' + b"a" * 2000 + b'"}'
        declared = await running.client.post(
            "/v1/chat", content=big, headers={**alice(), "Content-Type": "application/json"}
        )
        assert declared.status_code == 413
        assert declared.headers["content-type"] == PROBLEM

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 200

        streamed = await running.client.post(
            "/v1/chat", content=chunks(), headers={**alice(), "Content-Type": "application/json"}
        )
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413
        small = await running.client.post("/v1/chat", json={"message": "hi"}, headers=alice())
        assert small.status_code == 200


async def test_security_headers_and_the_chat_page_csp(db_url: str, data_dir: str) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        api = await running.client.get("/livez")
        page = await running.client.get("/")
        for response in (api, page):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert "strict-transport-security" not in response.headers
        assert page.headers["content-security-policy"] == CHAT_PAGE_CSP
        assert "script-src 'self'" in CHAT_PAGE_CSP
        assert "connect-src 'self' ws: wss:" in CHAT_PAGE_CSP
        assert api.headers["content-security-policy"].startswith("default-src 'none'")
        transport = httpx.ASGITransport(app=running.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as tls:
            secure = await tls.get("/livez")
        assert secure.headers["strict-transport-security"].startswith("max-age=")


async def test_untrusted_hosts_are_refused(db_url: str, data_dir: str) -> None:
    settings = build_settings(db_url, data_dir, trusted_hosts="testserver,agent.example")
    async with running_app(settings) as running:
        assert (await running.client.get("/livez")).status_code == 200
        evil = await running.client.get("/livez", headers={"Host": "evil.example"})
        assert evil.status_code == 400


async def test_cors_allows_only_listed_origins(db_url: str, data_dir: str) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    async with running_app(build_settings(db_url, data_dir)) as running:
        default = await running.client.options(
            "/v1/chat", headers={"Origin": "https://app.example", **preflight}
        )
        assert "access-control-allow-origin" not in default.headers
    settings = build_settings(db_url, data_dir, cors_allowed_origins="https://app.example")
    async with running_app(settings) as running:
        allowed = await running.client.options(
            "/v1/chat", headers={"Origin": "https://app.example", **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        denied = await running.client.options(
            "/v1/chat", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in denied.headers


async def test_request_ids_are_generated_or_kept_when_safe(db_url: str, data_dir: str) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        generated = (await running.client.get("/livez")).headers["x-request-id"]
        assert len(generated) == 32
        kept = await running.client.get("/livez", headers={"X-Request-ID": "abc-123"})
        assert kept.headers["x-request-id"] == "abc-123"
        unsafe = await running.client.get("/livez", headers={"X-Request-ID": "a b\tc" * 30})
        assert unsafe.headers["x-request-id"] != "a b\tc" * 30


async def test_draining_refuses_new_work_but_answers_probes(db_url: str, data_dir: str) -> None:
    async with running_app(build_settings(db_url, data_dir)) as running:
        running.state.draining = True
        refused = await running.client.get("/v1/conversations", headers=alice())
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == PROBLEM
        assert (await running.client.get("/livez")).status_code == 200
        ready = await running.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["draining"] == "yes"
