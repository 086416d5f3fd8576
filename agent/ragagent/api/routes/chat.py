"""POST /v1/chat: one question, answered as JSON or as server-sent events.

SSE events: ``token`` ``{"text"}`` for each piece of the answer, then
``citations`` ``{"citations", "conversation_id"}``, then ``done``
``{"usage", "conversation_id"}``; a failure after streaming began is an
``error`` event ``{"status", "detail"}`` (before that it is a plain HTTP error).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ragagent.api.chat_schemas import ChatCreate, ChatPublic, CitationPublic, UsagePublic
from ragagent.api.deps import ChatUser, Principal, StateDep
from ragagent.core import errors
from ragagent.services import chat
from ragagent.state import AppState

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["chat"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


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
        events = sse_events(state, principal, turn)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    result = await state.chat.answer_turn(principal, turn)
    return ChatPublic(
        answer=result.answer,
        citations=[
            CitationPublic.model_validate(c, from_attributes=True) for c in result.citations
        ],
        conversation_id=result.conversation_id,
        usage=UsagePublic.of(result.usage),
    )


def sse_event(event: str, data: dict[str, Any]) -> str:
    """One server-sent event; JSON keeps newlines in the data escaped."""
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def sse_events(
    state: AppState, principal: Principal, turn: chat.PreparedTurn
) -> AsyncIterator[str]:
    parts: list[str] = []
    try:
        async for delta in state.chat.stream_turn(principal, turn):
            if delta.text:
                parts.append(delta.text)
                yield sse_event("token", {"text": delta.text})
            if delta.usage is not None:
                citations = chat.build_citations(turn.chunks, "".join(parts))
                conversation_id = str(turn.conversation_id)
                yield sse_event(
                    "citations",
                    {
                        "citations": chat.citation_dicts(citations),
                        "conversation_id": conversation_id,
                    },
                )
                usage = UsagePublic.of(delta.usage).model_dump()
                yield sse_event("done", {"usage": usage, "conversation_id": conversation_id})
    except errors.AgentError as exc:
        log.warning("chat stream failed: %s", exc.title)
        yield sse_event("error", {"status": exc.status_code, "detail": exc.detail})
