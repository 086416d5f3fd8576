"""An OpenAI-compatible surface, so the official ``openai`` client can use the agent as a model.

POST /v1/chat/completions answers the last user message with RAG applied; the
earlier messages of the request are the history unless ``metadata.conversation_id``
names a stored conversation to continue. Citations come back in the extra
top-level field ``citations`` (on the final chunk when streaming), as do
``conversation_id``, ``degraded`` (no LLM provider answered: the extractive answerer
did, or the provider failed mid-answer) and ``incomplete`` (the answer stopped early).
GET /v1/models lists the one model the agent is.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ragagent.api import sse
from ragagent.api.chat_schemas import UsagePublic
from ragagent.api.deps import ChatUser, Principal, StateDep
from ragagent.core import errors, models
from ragagent.services import chat

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

MODEL_ID = "ragagent"


class CompletionMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The text of a message, joining the text parts of multi-part content."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class CompletionCreate(BaseModel):
    """The chat-completions request; sampling options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = MODEL_ID
    messages: list[CompletionMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    user: str | None = Field(None, max_length=256)
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class Completion:
    """What every chunk of one completion repeats: its id, the model and one ``created``.

    OpenAI gives all chunks of a stream the same ``created``; taking the clock per chunk
    would change it whenever a stream outlasts a second boundary.
    """

    id: str
    model: str
    created: int

    @classmethod
    def start(cls, model: str) -> Completion:
        return cls(f"chatcmpl-{uuid.uuid4().hex}", model, int(time.time()))


def split_messages(messages: list[CompletionMessage]) -> tuple[str, list[models.ChatTurn]]:
    """The last user message (the question) and the user/assistant turns before it."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        raise errors.ValidationFailed("messages must contain a user message")
    history = [
        models.ChatTurn(role="user" if m.role == "user" else "assistant", content=m.text())
        for m in messages[:last]
        if m.role in ("user", "assistant") and m.text()
    ]
    return messages[last].text(), history


def requested_conversation(metadata: dict[str, Any] | None) -> UUID | None:
    raw = (metadata or {}).get("conversation_id")
    if raw is None:
        return None
    try:
        return UUID(str(raw))
    except ValueError:
        raise errors.ValidationFailed("metadata.conversation_id must be a UUID") from None


@router.get("/models", summary="List models (OpenAI-compatible)")
async def list_models(principal: ChatUser) -> dict[str, Any]:
    model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "ragagent"}
    return {"object": "list", "data": [model]}


@router.post("/chat/completions", summary="Chat completions (OpenAI-compatible)")
async def create_completion(body: CompletionCreate, state: StateDep, principal: ChatUser) -> Any:
    question, history = split_messages(body.messages)
    conversation_id = requested_conversation(body.metadata)
    turn = await state.chat.prepare_turn(
        principal,
        message=question,
        conversation_id=conversation_id,
        interface="openai",
        history=None if conversation_id else history,
    )
    completion = Completion.start(body.model)
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        chunks = _chunks(
            state.chat, principal, turn, completion=completion, include_usage=include_usage
        )
        return sse.response(chunks)
    result = await state.chat.answer_turn(principal, turn)
    return {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.answer},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": UsagePublic.of(result.usage).model_dump(),
        "citations": result.citation_dicts(),
        "conversation_id": str(result.conversation_id),
        "degraded": result.degraded,
        "incomplete": result.incomplete,
        "declined": result.declined,
    }


def build_chunk(
    completion: Completion, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` of ``completion`` carrying ``delta`` for choice 0."""
    return {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


async def _chunks(
    service: chat.ChatService,
    principal: Principal,
    turn: chat.PreparedTurn,
    *,
    completion: Completion,
    include_usage: bool,
) -> AsyncIterator[str]:
    yield sse.message(build_chunk(completion, {"role": "assistant", "content": ""}))
    try:
        async for event in service.stream_turn(principal, turn):
            if isinstance(event, chat.ChatAnswer):
                closing = _closing_chunks(event, completion=completion, include_usage=include_usage)
                for chunk in closing:
                    yield sse.message(chunk)
            else:
                yield sse.message(build_chunk(completion, {"content": event}))
    except errors.AgentError as exc:
        log.warning("completion stream failed: %s", exc.title)
        error = {"message": exc.detail, "type": exc.title, "code": exc.status_code}
        yield sse.message({"error": error})
    yield "data: [DONE]\n\n"


def _closing_chunks(
    done: chat.ChatAnswer, *, completion: Completion, include_usage: bool
) -> list[dict[str, Any]]:
    """The finishing chunk with the citations, then the usage chunk when it was asked for."""
    final = build_chunk(completion, {}, finish="stop")
    final["citations"] = done.citation_dicts()
    final["conversation_id"] = str(done.conversation_id)
    final["degraded"], final["incomplete"] = done.degraded, done.incomplete
    final["declined"] = done.declined
    if not include_usage:
        return [final]
    usage = build_chunk(completion, {})
    usage["choices"] = []
    usage["usage"] = UsagePublic.of(done.usage).model_dump()
    return [final, usage]
