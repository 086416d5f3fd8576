"""/v1/ws/chat: chat over a WebSocket, one JSON message per question.

In: ``{"message": str, "conversation_id"?: str}``. Out, per question:
``{"type": "token", "text"}``..., then ``{"type": "citations", "citations",
"conversation_id"}`` and ``{"type": "done", "usage", "conversation_id", "degraded",
"incomplete"}``; a refused or failed question gets ``{"type": "error", "status",
"detail"}`` and the socket stays open. Frames over ``max_ws_frame_bytes`` close it with 1009.
A caller holds at most ``ws_max_per_principal`` sockets (one more is accepted and
closed with 1008 and a reason), and a socket that sends nothing for
``ws_idle_timeout_seconds`` while no answer streams is closed with 1000.
The client authenticates before the handshake completes (header, or a
``bearer.<token>`` subprotocol for browsers). On SIGTERM an answer streaming now
finishes (within the grace period) before the socket is closed with 1001; a question
sent while the server drains closes the socket with 1001 and a reason instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from uuid import UUID

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, ValidationError

from ragagent.api import deps
from ragagent.api.chat_schemas import closing_events
from ragagent.core import errors, ratelimit
from ragagent.core.metrics import WEBSOCKETS_ACTIVE
from ragagent.services import chat
from ragagent.state import WS_GOING_AWAY, AppState

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["chat"])

MESSAGE_TOO_BIG = 1009
NORMAL_CLOSURE = 1000
DRAINING_REASON = "server shutting down; reconnect to ask again"


class WsQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str
    conversation_id: UUID | None = None


class FrameTooLargeError(Exception):
    """A client frame exceeded the configured limit; the socket closes with 1009."""


class IdleError(Exception):
    """No client frame within the idle timeout; the socket closes with 1000."""


@router.websocket("/ws/chat")
async def websocket_chat(websocket: WebSocket) -> None:
    principal = await deps.authenticate_websocket(websocket)
    if principal is None:
        return  # authenticate_websocket already closed it with 1008
    state = deps.get_state(websocket)
    await websocket.accept(subprotocol=deps.websocket_subprotocol(websocket))
    who, limit = ratelimit.identity(principal), state.settings.ws_max_per_principal
    if not state.ws_quota.acquire(who, limit):
        # Accepted first, so the client reads the reason (a refused handshake carries none).
        reason = f"at most {limit} open WebSockets per caller (RAGAGENT_WS_MAX_PER_PRINCIPAL)"
        await websocket.close(code=deps.WS_POLICY_VIOLATION, reason=reason)
        return
    WEBSOCKETS_ACTIVE.inc()
    try:
        await _serve(websocket, state, principal)
    except WebSocketDisconnect:
        log.debug("websocket client went away")
    except FrameTooLargeError:
        await websocket.close(code=MESSAGE_TOO_BIG, reason="frame too large")
    except IdleError:
        idle = state.settings.ws_idle_timeout_seconds
        await websocket.close(code=NORMAL_CLOSURE, reason=f"idle for {idle:g} seconds")
    finally:
        state.ws_quota.release(who)
        WEBSOCKETS_ACTIVE.dec()


async def _serve(websocket: WebSocket, state: AppState, principal: deps.Principal) -> None:
    while True:
        raw = await _receive(
            websocket, state.settings.max_ws_frame_bytes, state.settings.ws_idle_timeout_seconds
        )
        try:
            await state.limiter.hit(principal, "chat")
            question = _parse(raw)
            if state.draining:  # the answer could not finish before the pod goes
                await websocket.close(code=WS_GOING_AWAY, reason=DRAINING_REASON)
                return
            with state.ws_answers.track():
                await _answer(websocket, state, principal, question)
        except errors.AgentError as exc:
            await websocket.send_json(
                {"type": "error", "status": exc.status_code, "detail": exc.detail, **exc.extensions}
            )


async def _receive(websocket: WebSocket, limit: int, idle_seconds: float) -> str | bytes:
    """The next text or binary frame; raises FrameTooLargeError past ``limit`` bytes and
    IdleError when none comes within ``idle_seconds`` (answers stream outside this wait)."""
    try:
        async with asyncio.timeout(idle_seconds):
            message = await websocket.receive()
    except TimeoutError:
        raise IdleError from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    data: str | bytes = message.get("text") or message.get("bytes") or b""
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > limit:
        raise FrameTooLargeError
    return data


def _parse(raw: str | bytes) -> WsQuestion:
    """A question frame; anything else is a 422 error frame."""
    try:
        return WsQuestion.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        detail = 'send JSON like {"message": "...", "conversation_id": null}'
        raise errors.ValidationFailed(detail) from exc


async def _answer(
    websocket: WebSocket, state: AppState, principal: deps.Principal, question: WsQuestion
) -> None:
    turn = await state.chat.prepare_turn(
        principal,
        message=question.message,
        conversation_id=question.conversation_id,
        interface="ws",
    )
    async for event in state.chat.stream_turn(principal, turn):
        if isinstance(event, chat.ChatAnswer):
            for kind, data in closing_events(event):
                await websocket.send_json({"type": kind, **data})
        else:
            await websocket.send_json({"type": "token", "text": event})
