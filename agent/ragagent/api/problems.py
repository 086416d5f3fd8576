"""Errors as ``application/problem+json`` (RFC 9457), the only error shape we send.

``AgentError`` subclasses carry their own status and safe detail. Validation
errors list each field's message but never the submitted input (it may hold
secrets or whole documents). Anything else is an internal fault: logged with
its request id, answered with a bare 500 that reveals nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import Message, Scope, Send
from starlette.websockets import WebSocket

from ragagent.core import errors
from ragagent.core.logging import REQUEST_ID

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
WS_POLICY_VIOLATION = 1008
WS_INTERNAL_ERROR = 1011
WS_TRY_AGAIN_LATER = 1013


def build_problem(
    *, status: int, title: str, detail: str, instance: str, kind: str = "about:blank"
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": REQUEST_ID.get(),
    }


def problem_type(exc: errors.AgentError) -> str:
    """A stable URN per error class, e.g. ``urn:ragagent:error:rate-limited``."""
    slug = re.sub(r"(?<!^)(?=[A-Z])", "-", type(exc).__name__).lower()
    return f"urn:ragagent:error:{slug}"


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], headers=headers, media_type=PROBLEM_JSON)


async def send_problem(
    scope: Scope, send: Send, body: dict[str, Any], *, headers: dict[str, str]
) -> None:
    """Answer from ASGI middleware with a problem; the request body is never read."""
    await problem_response(body, headers)(scope, _disconnected, send)


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


async def _close_websocket(conn: WebSocket, code: int) -> None:
    """Close a WebSocket an error escaped from; it may already be gone."""
    try:
        await conn.close(code=code)
    except RuntimeError:
        log.debug("websocket already closed")


def _ws_code(status: int) -> int:
    if status in (401, 403, 429):
        return WS_POLICY_VIOLATION
    return WS_TRY_AGAIN_LATER if status == 503 else WS_INTERNAL_ERROR


async def on_agent_error(conn: HTTPConnection, exc: Exception) -> JSONResponse | None:
    assert isinstance(exc, errors.AgentError)
    log.log(
        logging.WARNING if exc.status_code >= 500 else logging.INFO,
        "request failed: %s",
        exc.title,
        extra={"status": exc.status_code, "error": type(exc).__name__},
    )
    if isinstance(conn, WebSocket):
        await _close_websocket(conn, _ws_code(exc.status_code))
        return None
    body = build_problem(
        status=exc.status_code,
        title=exc.title,
        detail=exc.detail,
        instance=conn.url.path,
        kind=problem_type(exc),
    )
    body.update(exc.extensions)
    return problem_response(body, exc.headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in exc.errors()
    ]


async def on_validation_error(conn: HTTPConnection, exc: Exception) -> JSONResponse | None:
    assert isinstance(exc, RequestValidationError)
    fields = _field_errors(exc)
    if isinstance(conn, WebSocket):
        await _close_websocket(conn, WS_POLICY_VIOLATION)
        return None
    summary = "; ".join(f"{'.'.join(f['loc'])}: {f['msg']}" for f in fields[:5])
    body = build_problem(
        status=422,
        title="Validation failed",
        detail=summary or "The request is invalid",
        instance=conn.url.path,
        kind="urn:ragagent:error:validation-failed",
    )
    body["errors"] = fields
    return problem_response(body)


async def on_http_error(conn: HTTPConnection, exc: Exception) -> JSONResponse | None:
    """Starlette's own 404/405 (unknown route, wrong method) in the same shape."""
    assert isinstance(exc, HTTPException)
    if isinstance(conn, WebSocket):
        await _close_websocket(conn, WS_POLICY_VIOLATION)
        return None
    body = build_problem(
        status=exc.status_code,
        title=_reason(exc.status_code),
        detail=str(exc.detail),
        instance=conn.url.path,
    )
    return problem_response(body, dict(exc.headers or {}))


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def on_data_error(conn: HTTPConnection, exc: Exception) -> JSONResponse | None:
    """PostgreSQL refused a value (NUL byte, number out of range): the client's input.

    Routes validate what they can; this is the backstop that keeps such input a
    422 instead of a 500. The database's message is not echoed.
    """
    log.info("database rejected a value: %s", type(exc).__name__)
    return await on_agent_error(
        conn, errors.ValidationFailed("A value in the request is not acceptable")
    )


def internal_error_body(path: str) -> dict[str, Any]:
    return build_problem(
        status=500,
        title="Internal error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
        instance=path,
    )


def install_handlers(app: FastAPI) -> None:
    # Typed loosely: the same handler serves Request and WebSocket connections.
    handlers: dict[type[Exception], Any] = {
        errors.AgentError: on_agent_error,
        RequestValidationError: on_validation_error,
        HTTPException: on_http_error,
        psycopg.DataError: on_data_error,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
