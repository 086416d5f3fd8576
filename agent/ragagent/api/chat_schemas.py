"""Request and response bodies shared by the chat interfaces (REST, SSE, WebSocket)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ragagent.rag.types import Citation, Usage
from ragagent.services.chat import ChatAnswer


class ChatCreate(BaseModel):
    """A question; without ``conversation_id`` a new conversation starts."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="The question (non-empty; at most max_message_bytes).")
    conversation_id: UUID | None = Field(None, description="Continue this conversation.")
    stream: bool = Field(False, description="Answer as server-sent events instead of JSON.")


class CitationPublic(Citation):
    pass  # a citation, published as the chat service made it


class UsagePublic(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, usage: Usage) -> UsagePublic:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )


def closing_events(done: ChatAnswer) -> list[tuple[str, dict[str, Any]]]:
    """The ``citations`` and then the ``done`` event that end every streamed answer
    (named SSE events; WebSocket frames of that ``type``)."""
    conversation_id = str(done.conversation_id)
    return [
        ("citations", {"citations": done.citation_dicts(), "conversation_id": conversation_id}),
        ("done", {"usage": UsagePublic.of(done.usage).model_dump(), **_tail(done)}),
    ]


def _tail(done: ChatAnswer) -> dict[str, Any]:
    """The end of every streamed answer: its conversation and how whole the answer is."""
    return {
        "conversation_id": str(done.conversation_id),
        "degraded": done.degraded,
        "incomplete": done.incomplete,
        "declined": done.declined,
    }


DEGRADED_DOC = (
    "True when no LLM provider answered and the offline extractive answerer did, or the "
    "provider failed mid-answer."
)
INCOMPLETE_DOC = "True when the answer stopped early (the provider failed mid-answer)."
DECLINED_DOC = (
    "True when nothing retrieved was relevant enough: the answer says it does not know and "
    "cites nothing."
)


class ChatPublic(BaseModel):
    answer: str
    citations: list[CitationPublic]
    conversation_id: UUID
    usage: UsagePublic
    degraded: bool = Field(False, description=DEGRADED_DOC)
    incomplete: bool = Field(False, description=INCOMPLETE_DOC)
    declined: bool = Field(False, description=DECLINED_DOC)


class MessagePublic(BaseModel):
    id: int
    role: str
    content: str
    citations: list[CitationPublic]
    prompt_tokens: int
    completion_tokens: int
    created_at: datetime
    incomplete: bool = Field(
        False, description="The answer stopped early: the client left or the provider failed."
    )


class ConversationPublic(BaseModel):
    id: UUID
    title: str
    message_count: int
    created_at: datetime
    updated_at: datetime


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic]


class ConversationList(BaseModel):
    conversations: list[ConversationPublic]
    limit: int
    offset: int
