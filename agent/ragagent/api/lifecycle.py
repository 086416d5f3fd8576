"""Draining on shutdown: refuse new work, and close open WebSockets with 1001.

On SIGTERM the server calls ``drain``, which flips ``AppState.draining``. From
then on new HTTP requests get 503 (health probes still answer, so readiness can
report the drain), new WebSockets are refused, a new question on an open one
closes it with 1001, and chat turns still queued for admission get 503.
In-flight requests continue; once the WebSocket answers in flight have finished,
every accepted WebSocket, which ``DrainMiddleware`` tracked in ``AppState.websockets``,
is sent 1001 "going away".
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from starlette.types import Message, Receive, Scope, Send

from ragagent.api import problems
from ragagent.api.asgi import Middleware
from ragagent.state import WS_GOING_AWAY, AppState

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger(__name__)

PROBE_PATHS = frozenset({"/livez", "/readyz", "/healthz"})


def is_draining(scope: Scope) -> bool:
    state = AppState.of(scope["app"])
    return bool(state is not None and state.draining)


async def drain(app: Starlette, grace_seconds: float) -> None:
    """Refuse new work, let WebSocket answers in flight finish within ``grace_seconds``,
    then close every open WebSocket with 1001.

    The server calls it on the first SIGTERM; before start-up it only logs. An answer
    still streaming when the grace runs out is cut by the close; its text so far is
    stored marked incomplete (``ChatService.stream_turn``).
    """
    state = AppState.of(app)
    if state is not None:
        state.draining = True
        state.chat.admission.close()  # turns queued for a slot are refused now too
    log.info("draining: refusing new requests, finishing websocket answers")
    if state is None:
        return
    try:
        async with asyncio.timeout(grace_seconds):
            await state.ws_answers.wait_idle()
    except TimeoutError:
        log.warning("%d websocket answer(s) outlived the grace period", len(state.ws_answers))
    if len(state.websockets):
        closed = await state.websockets.close_all()
        log.info("asked %d websocket(s) to close", closed)


class DrainMiddleware(Middleware):
    """Refuses new work while draining and tracks accepted WebSockets."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_draining(scope) and scope["path"] not in PROBE_PATHS:
            await _refuse(scope, send)
        else:
            await self.app(scope, receive, send)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = AppState.of(scope["app"])
        if state is None:
            await self.app(scope, receive, send)
            return
        if state.draining:
            await send({"type": "websocket.close", "code": WS_GOING_AWAY})
            return
        registry, key = state.websockets, id(scope)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "websocket.accept":
                registry.add(key, send)
            await send(message)
            if message["type"] == "websocket.close":
                registry.discard(key)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            registry.discard(key)


async def _refuse(scope: Scope, send: Send) -> None:
    body = problems.build_problem(
        status=503,
        title="Service unavailable",
        detail="The server is shutting down; retry on another replica",
        instance=scope.get("path", ""),
        kind="urn:ragagent:error:draining",
    )
    await problems.send_problem(
        scope, send, body, headers={"Retry-After": "1", "Connection": "close"}
    )
