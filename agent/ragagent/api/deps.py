"""FastAPI dependencies: the app's state, the authenticated principal, scope checks.

``ChatUser`` / ``IngestUser`` / ``AdminUser`` authenticate the caller, check
the scope and count the request against the caller's rate limit, in that
order, so an unauthenticated flood is refused before it touches the limiter.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, WebSocket
from starlette.requests import HTTPConnection

from ragagent.api.caller import Caller
from ragagent.core import errors
from ragagent.core.security import Principal, fail, forbid
from ragagent.state import AppState

__all__ = [
    "AdminUser",
    "ChatUser",
    "IngestUser",
    "Principal",
    "StateDep",
    "authenticate_websocket",
    "get_state",
    "websocket_subprotocol",
]

log = logging.getLogger(__name__)

BEARER_SUBPROTOCOL = "bearer."
WS_POLICY_VIOLATION = 1008


def get_state(conn: HTTPConnection) -> AppState:
    """The app's state; 503 while the agent is starting up or shutting down."""
    state = AppState.of(conn.app)
    if state is None:
        raise errors.ServiceUnavailable("The agent is starting up")
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def credential(conn: HTTPConnection) -> str | None:
    """The bearer token or API key the caller sent, if any."""
    header = conn.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise fail("malformed", "Use 'Authorization: Bearer <token>'")
        return value.strip()
    return conn.headers.get("x-api-key") or None


def client_ip(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None


async def authenticate(conn: HTTPConnection) -> Principal:
    auth = get_state(conn).auth
    return await auth.authenticate(credential(conn), client_ip=client_ip(conn))


def require(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: authenticated, holding ``scope``, within its rate limit."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.has_scope(scope):
            raise forbid(scope)
        headers = await get_state(request).limiter.hit(principal, scope)
        Caller(principal.id, headers).remember(request)
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


ChatUser = Annotated[Principal, Depends(require("chat"))]
IngestUser = Annotated[Principal, Depends(require("ingest"))]
AdminUser = Annotated[Principal, Depends(require("admin"))]


def websocket_subprotocol(websocket: WebSocket) -> str | None:
    """The subprotocol to echo on accept: the first offered one that is not a token.

    Browsers cannot set headers on WebSockets, so they offer
    ``["ragagent", "bearer.<token>"]``; echoing the token back would leak it
    into logs of proxies, so the server selects the other entry.
    """
    for offered in websocket.scope.get("subprotocols", []):
        if not offered.startswith(BEARER_SUBPROTOCOL):
            return str(offered)
    return None


def websocket_credential(websocket: WebSocket) -> str | None:
    for offered in websocket.scope.get("subprotocols", []):
        if offered.startswith(BEARER_SUBPROTOCOL):
            return str(offered)[len(BEARER_SUBPROTOCOL) :] or None
    return credential(websocket)


async def authenticate_websocket(websocket: WebSocket, scope: str = "chat") -> Principal | None:
    """Authenticate before ``accept``; on failure close with 1008 and return None."""
    try:
        auth = get_state(websocket).auth
        principal = await auth.authenticate(
            websocket_credential(websocket), client_ip=client_ip(websocket)
        )
        if not principal.has_scope(scope):
            raise forbid(scope)
    except (errors.Unauthorized, errors.Forbidden) as exc:
        await websocket.close(code=WS_POLICY_VIOLATION, reason=exc.title)
        return None
    Caller(principal.id).remember(websocket)
    return principal
