"""POST /v1/chat: one question, answered as JSON or as server-sent events.

SSE events: ``token`` ``{"text"}`` for each piece of the answer, then
``citations`` ``{"citations", "conversation_id"}``, then ``done``
``{"usage", "conversation_id", "degraded", "incomplete"}``; a failure after streaming began is an
``error`` event ``{"status", "detail"}`` (before that it is a plain HTTP error).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter

from ragagent.api import sse
from ragagent.api.chat_schemas import (
    ChatCreate,
    ChatPublic,
    CitationPublic,
    UsagePublic,
    closing_events,
)
from ragagent.api.deps import ChatUser, Principal, StateDep
from ragagent.core import errors
from ragagent.services import chat

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post(
    "/chat",
    response_model=ChatPublic,
    responses={200: {"content": {"text/event-stream": {}}}},
    summary="Ask a question (JSON, or SSE with stream=true)",
)
async def post_chat(body: ChatCreate, state: StateDep, principal: ChatUser) -> Any:
    interface = "sse" if body.stream else "rest"
    turn = await state.chat.prepare_turn(
        principal,
        message=body.message,
        conversation_id=body.conversation_id,
        interface=interface,
    )
    if body.stream:
        return sse.response(sse_events(state.chat, principal, turn))
    result = await state.chat.answer_turn(principal, turn)
    return ChatPublic(
        answer=result.answer,
        citations=[
            CitationPublic.model_validate(c, from_attributes=True) for c in result.citations
        ],
        conversation_id=result.conversation_id,
        usage=UsagePublic.of(result.usage),
        degraded=result.degraded,
        incomplete=result.incomplete,
        declined=result.declined,
    )


async def sse_events(
    service: chat.ChatService, principal: Principal, turn: chat.PreparedTurn
) -> AsyncIterator[str]:
    try:
        async for event in service.stream_turn(principal, turn):
            if isinstance(event, chat.ChatAnswer):
                for name, data in closing_events(event):
                    yield sse.event(name, data)
            else:
                yield sse.event("token", {"text": event})
    except errors.AgentError as exc:
        log.warning("chat stream failed: %s", exc.title)
        yield sse.event("error", {"status": exc.status_code, "detail": exc.detail})
