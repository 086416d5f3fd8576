"""The HTTP/WebSocket middleware stack, installed by ``install(app, settings)``.

Outermost first: request context (request id, access log, metrics, last-resort
500), trusted hosts, CORS, security headers, draining, the per-client limit
before authentication, body-size cap. All are
pure ASGI, so streaming responses pass through unbuffered.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragagent.api import problems
from ragagent.api.asgi import Middleware
from ragagent.api.caller import Caller
from ragagent.api.lifecycle import DrainMiddleware
from ragagent.api.openapi import install_openapi
from ragagent.api.preauth import PreAuthLimitMiddleware
from ragagent.core import telemetry
from ragagent.core.logging import REQUEST_ID
from ragagent.core.metrics import HTTP_LATENCY, HTTP_REQUESTS

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ragagent.core.config import Settings

access_log = logging.getLogger("ragagent.access")
log = logging.getLogger(__name__)

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CHAT_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load their scripts from a CDN and use inline bootstraps: these paths
# go without a CSP only while the docs are served (never in production by default).
DOCS_PATHS = ("/docs", "/redoc")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values), or 'unmatched'."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    """Request id, access log line, HTTP metrics and the last-resort 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        inbound = _header(scope, b"x-request-id")
        request_id = inbound if inbound and _REQUEST_ID_RE.match(inbound) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        try:
            await self._run(scope, receive, send, request_id)
        finally:
            REQUEST_ID.reset(token)

    async def _run(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started, status = time.perf_counter(), [0]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception(
                "unhandled error", extra={"path": scope.get("path"), "request_id": request_id}
            )
            if status[0]:
                raise
            status[0] = 500
            await _send_internal_error(scope, send_wrapper)
        finally:
            if scope["type"] == "http":
                _observe(scope, status[0] or 500, time.perf_counter() - started)


async def _send_internal_error(scope: Scope, send: Send) -> None:
    if scope["type"] != "http":
        await send({"type": "websocket.close", "code": problems.WS_INTERNAL_ERROR})
        return
    body = json.dumps(problems.internal_error_body(scope.get("path", ""))).encode()
    headers = [
        (b"content-type", problems.PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _observe(scope: Scope, status: int, seconds: float) -> None:
    route, method = route_template(scope), scope.get("method", "GET")
    HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    HTTP_LATENCY.labels(route=route, method=method).observe(seconds)
    caller = Caller.of(scope)
    access_log.info(
        "%s %s %s %.1fms",
        method,
        scope.get("path", ""),
        status,
        seconds * 1000,
        extra={
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": (scope.get("client") or ("-",))[0],
            "principal": caller.principal_id if caller else "-",
        },
    )


class SecurityHeadersMiddleware(Middleware):
    """Hardening headers on every response, a strict CSP on pages, RateLimit-* echoes.

    ``csp_exempt`` lists path prefixes that get no CSP (the docs, while served).
    """

    def __init__(self, app: ASGIApp, *, csp_exempt: tuple[str, ...] = ()) -> None:
        super().__init__(app)
        self.csp_exempt = csp_exempt

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = _secure_headers(scope, message, self.csp_exempt)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _secure_headers(
    scope: Scope, message: Message, csp_exempt: tuple[str, ...]
) -> list[tuple[bytes, bytes]]:
    headers = list(message.get("headers", []))
    present = {key.lower() for key, _ in headers}
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    wanted: dict[bytes, str] = {
        b"x-content-type-options": "nosniff",
        b"x-frame-options": "DENY",
        b"referrer-policy": "no-referrer",
        b"cross-origin-opener-policy": "same-origin",
    }
    if not (csp_exempt and scope.get("path", "").startswith(csp_exempt)):
        wanted[b"content-security-policy"] = (
            CHAT_PAGE_CSP if content_type.startswith(b"text/html") else API_CSP
        )
    if scope.get("scheme") == "https":
        wanted[b"strict-transport-security"] = "max-age=31536000; includeSubDomains"
    caller = Caller.of(scope)
    for key, value in (caller.ratelimit_headers if caller else {}).items():
        wanted[key.lower().encode()] = value
    headers.extend((k, v.encode()) for k, v in wanted.items() if k not in present)
    return headers


class BodyLimitMiddleware(Middleware):
    """413 for bodies over the cap, by Content-Length or by counting a streamed body."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        received, started = [0], [False]

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > self.max_bytes:
                    raise _BodyTooLargeError(self.max_bytes)
            return message

        async def send_wrapper(message: Message) -> None:
            started[0] = started[0] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except _BodyTooLargeError:
            if started[0]:
                raise
            await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        body = problems.build_problem(
            status=413,
            title="Payload too large",
            detail=f"The request body exceeds {self.max_bytes} bytes",
            instance=scope.get("path", ""),
            kind="urn:ragagent:error:payload-too-large",
        )
        await problems.send_problem(scope, send, body, headers={"Connection": "close"})


class _BodyTooLargeError(HTTPException):
    """Raised from inside ``receive`` to abandon an oversized body.

    An HTTPException because FastAPI turns any other error raised while it
    reads a body into a 400; this one it lets through to the 413 handler.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body exceeds {max_bytes} bytes")


def install(app: FastAPI, settings: Settings) -> None:
    """Add the whole stack and the problem+json handlers to ``app`` (call once)."""
    problems.install_handlers(app)
    install_openapi(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    # Outside the routes and so before authentication: bogus credentials cost no lookups.
    app.add_middleware(
        PreAuthLimitMiddleware,
        per_minute=settings.preauth_requests_per_minute,
        burst=settings.preauth_burst,
    )
    app.add_middleware(DrainMiddleware)
    docs = settings.serves_docs(production=settings.is_production)
    app.add_middleware(SecurityHeadersMiddleware, csp_exempt=DOCS_PATHS if docs else ())
    if settings.cors_allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allowed_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
            max_age=600,
        )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts or ["*"])
    app.add_middleware(RequestContextMiddleware)
    telemetry.instrument_app(app, settings)
