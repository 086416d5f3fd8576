"""The typed record authentication leaves for the middleware (``api.caller.Caller``)."""

from __future__ import annotations

import logging

import pytest
from starlette.requests import Request

from ragagent.api.caller import Caller
from ragagent.core.security import jwt_principal_id
from tests.agent.hardening.harness import (
    ISSUER,
    bearer,
    build_settings,
    build_token,
    running_app,
)


def test_a_request_without_a_record_has_none_and_a_foreign_value_is_not_taken() -> None:
    assert Caller.of({"type": "http"}) is None
    assert Caller.of({"type": "http", "state": {"ragagent_caller": "alice"}}) is None
    request = Request({"type": "http", "headers": []})
    Caller("jwt:x#alice", {"RateLimit-Limit": "3"}).remember(request)
    assert Caller.of(request.scope) == Caller("jwt:x#alice", {"RateLimit-Limit": "3"})


async def test_the_access_log_names_the_caller_and_the_response_echoes_its_limit(
    db_url: str, data_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = build_settings(db_url, data_dir, rate_limit_scopes="chat=2/1")
    async with running_app(settings) as running:
        with caplog.at_level(logging.INFO, logger="ragagent.access"):
            alice = bearer(build_token(sub="alice", scope="chat"))
            served = await running.client.get("/v1/conversations", headers=alice)
            refused = await running.client.get("/v1/conversations")
    assert served.status_code == 200
    assert served.headers["RateLimit-Limit"] == "3"
    assert served.headers["RateLimit-Remaining"] == "2"
    assert refused.status_code == 401
    assert "RateLimit-Limit" not in refused.headers
    principals = [
        getattr(record, "principal", None)
        for record in caplog.records
        if record.name == "ragagent.access"
    ]
    assert principals == [jwt_principal_id(ISSUER, "alice"), "-"]
