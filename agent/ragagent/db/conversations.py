"""SQL for conversations and their messages (migration 0002).

Every function that takes a ``user_id`` filters by it: a conversation of
another user behaves exactly like one that does not exist, so its existence
never leaks. Functions return None / False for "not found" and leave the
choice of HTTP status to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict, Unpack
from uuid import UUID

from psycopg.types.json import Jsonb

from ragagent.core import models

if TYPE_CHECKING:
    from ragagent.core.db import Connection, Database

TITLE_CHARS = 80


@dataclass(frozen=True)
class Conversation:
    id: UUID
    user_id: str
    title: str
    message_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Message:
    id: int
    role: str
    content: str
    citations: list[dict[str, Any]]
    prompt_tokens: int
    completion_tokens: int
    created_at: datetime
    incomplete: bool = False  # the answer stopped early (migration 0007)


@dataclass(frozen=True)
class ConversationContext:
    """What a new turn needs from an existing conversation."""

    conversation: Conversation
    history: list[models.ChatTurn]


_CONVERSATION = "id, user_id, title, message_count, created_at, updated_at"
_MESSAGE = "id, role, content, citations, prompt_tokens, completion_tokens, created_at, incomplete"


def build_title(message: str) -> str:
    """A conversation's title: the first words of its first message, on one line."""
    flat = " ".join(message.split())
    if len(flat) <= TITLE_CHARS:
        return flat
    return flat[:TITLE_CHARS].rsplit(" ", 1)[0] + "…"


async def _get(conn: Connection, user_id: str, conversation_id: UUID) -> Conversation | None:
    cur = await conn.execute(
        f"SELECT {_CONVERSATION} FROM conversations WHERE id = %s AND user_id = %s",
        (conversation_id, user_id),
    )
    row = await cur.fetchone()
    return Conversation(**row) if row else None


async def get_conversation(
    db: Database, *, user_id: str, conversation_id: UUID
) -> Conversation | None:
    async with db.connection() as conn:
        return await _get(conn, user_id, conversation_id)


async def load_context(
    db: Database, *, user_id: str, conversation_id: UUID, max_turns: int
) -> ConversationContext | None:
    """The conversation and its last ``max_turns`` messages (oldest first); None if unknown."""
    async with db.connection() as conn:
        return await read_context(
            conn, user_id=user_id, conversation_id=conversation_id, max_turns=max_turns
        )


async def read_context(
    conn: Connection, *, user_id: str, conversation_id: UUID, max_turns: int
) -> ConversationContext | None:
    """``load_context`` on a held connection (a chat turn reserves its tokens on it next)."""
    conversation = await _get(conn, user_id, conversation_id)
    if conversation is None:
        return None
    cur = await conn.execute(
        "SELECT role, content FROM messages WHERE conversation_id = %s ORDER BY id DESC LIMIT %s",
        (conversation_id, max_turns),
    )
    rows = await cur.fetchall()
    history = [models.ChatTurn(role=row["role"], content=row["content"]) for row in reversed(rows)]
    return ConversationContext(conversation, history)


async def list_conversations(
    db: Database, *, user_id: str, limit: int, offset: int
) -> list[Conversation]:
    """The user's conversations, most recently active first."""
    async with db.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_CONVERSATION} FROM conversations WHERE user_id = %s "
            "ORDER BY updated_at DESC, id LIMIT %s OFFSET %s",
            (user_id, limit, offset),
        )
        return [Conversation(**row) for row in await cur.fetchall()]


async def list_messages(db: Database, *, conversation_id: UUID) -> list[Message]:
    """All messages of a conversation in order; the caller has checked ownership."""
    async with db.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_MESSAGE} FROM messages WHERE conversation_id = %s ORDER BY id",
            (conversation_id,),
        )
        return [Message(**row) for row in await cur.fetchall()]


async def create_conversation(db: Database, *, user_id: str, first_message: str) -> UUID:
    """Start a conversation with its first user message, in one transaction."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO conversations (user_id, title, message_count) VALUES (%s, %s, 1) "
            "RETURNING id",
            (user_id, build_title(first_message)),
        )
        row = await cur.fetchone()
        assert row is not None  # INSERT ... RETURNING always yields the new row
        await conn.execute(
            "INSERT INTO messages (conversation_id, role, content) VALUES (%s, 'user', %s)",
            (row["id"], first_message),
        )
    conversation_id: UUID = row["id"]
    return conversation_id


class MessageExtras(TypedDict, total=False):
    """What an answer stores beside its text: its citations, usage and whether it was cut."""

    citations: Sequence[dict[str, Any]]
    prompt_tokens: int
    completion_tokens: int
    incomplete: bool


async def add_message(
    db: Database,
    *,
    conversation_id: UUID,
    role: str,
    content: str,
    max_messages: int,
    **extras: Unpack[MessageExtras],
) -> bool:
    """Append a message unless the conversation holds ``max_messages`` already.

    The count check and the increment are one UPDATE, so concurrent turns can
    never push a conversation past its limit. Returns False when it is full
    (or gone, e.g. deleted while an answer was streaming).
    """
    async with db.connection() as conn:
        return await append_message(
            conn,
            conversation_id=conversation_id,
            role=role,
            content=content,
            max_messages=max_messages,
            **extras,
        )


async def append_message(
    conn: Connection,
    *,
    conversation_id: UUID,
    role: str,
    content: str,
    max_messages: int,
    **extras: Unpack[MessageExtras],
) -> bool:
    """``add_message`` on a held connection, in its open transaction (not committed)."""
    cur = await conn.execute(
        "UPDATE conversations SET message_count = message_count + 1, updated_at = now() "
        "WHERE id = %s AND message_count < %s RETURNING id",
        (conversation_id, max_messages),
    )
    if await cur.fetchone() is None:
        return False
    await conn.execute(
        "INSERT INTO messages (conversation_id, role, content, citations, prompt_tokens, "
        "completion_tokens, incomplete) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            conversation_id,
            role,
            content,
            Jsonb(list(extras.get("citations", ()))),
            extras.get("prompt_tokens", 0),
            extras.get("completion_tokens", 0),
            extras.get("incomplete", False),
        ),
    )
    return True


async def delete_conversation(db: Database, *, user_id: str, conversation_id: UUID) -> bool:
    """Delete a conversation with its messages; False when the user has no such conversation."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "DELETE FROM conversations WHERE id = %s AND user_id = %s RETURNING id",
            (conversation_id, user_id),
        )
        return await cur.fetchone() is not None
