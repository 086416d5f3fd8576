"""Draining on shutdown: refuse new work, and close open WebSockets with 1001.

``AppState.draining`` is flipped by the server on SIGTERM. From then on new
HTTP requests get 503 (health probes still answer, so readiness can report
the drain), new WebSockets are refused, and ``WebSocketRegistry.close_all``
sends 1001 "going away" to every accepted one. In-flight requests continue.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragagent.api import problems

log = logging.getLogger(__name__)

WS_GOING_AWAY = 1001
PROBE_PATHS = frozenset({"/livez", "/readyz", "/healthz"})


class WebSocketRegistry:
    """The raw ``send`` of every accepted WebSocket, so shutdown can close them."""

    def __init__(self) -> None:
        self._open: dict[int, Send] = {}

    def __len__(self) -> int:
        return len(self._open)

    def add(self, key: int, send: Send) -> None:
        self._open[key] = send

    def discard(self, key: int) -> None:
        self._open.pop(key, None)

    async def close_all(self, code: int = WS_GOING_AWAY) -> int:
        """Send a close frame to every open socket; returns how many were asked."""
        sends = list(self._open.values())
        results = await asyncio.gather(
            *(
                send({"type": "websocket.close", "code": code, "reason": "server shutting down"})
                for send in sends
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):
                log.debug("websocket already closing: %s", type(result).__name__)
        return len(sends)


def is_draining(scope: Scope) -> bool:
    app: Any = scope.get("app")
    state = getattr(getattr(app, "state", None), "ragagent", None)
    return bool(state is not None and state.draining)


class DrainMiddleware:
    """Refuses new work while draining and tracks accepted WebSockets."""

    def __init__(self, app: ASGIApp, *, registry: WebSocketRegistry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http" and is_draining(scope) and scope["path"] not in PROBE_PATHS:
            await _refuse(scope, send)
        else:
            await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_draining(scope):
            await send({"type": "websocket.close", "code": WS_GOING_AWAY})
            return
        key = id(scope)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "websocket.accept":
                self.registry.add(key, send)
            await send(message)
            if message["type"] == "websocket.close":
                self.registry.discard(key)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.registry.discard(key)


async def _refuse(scope: Scope, send: Send) -> None:
    body = problems.build_problem(
        status=503,
        title="Service unavailable",
        detail="The server is shutting down; retry on another replica",
        instance=scope.get("path", ""),
        kind="urn:ragagent:error:draining",
    )
    response = problems.problem_response(body, {"Retry-After": "1", "Connection": "close"})
    await response(scope, _disconnected, send)


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}
