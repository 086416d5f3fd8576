"""A chat turn's plain parts: the question's validation, the finished answer and its citations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from ragagent.core import errors
from ragagent.rag import chunking
from ragagent.rag.types import Citation, RetrievedChunk, Usage

if TYPE_CHECKING:
    from ragagent.core.config import Settings

SNIPPET_CHARS = 300
_MARKER = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class ChatAnswer:
    """A finished turn: the stored answer, what it cites, its conversation and its usage."""

    answer: str
    citations: list[Citation]
    conversation_id: UUID
    usage: Usage
    # No LLM provider answered, so the extractive answerer did (or, with incomplete, the
    # provider broke off mid-answer); every interface shows both flags.
    degraded: bool = False
    incomplete: bool = False
    # Nothing retrieved was relevant enough, so the answer says it does not know and cites nothing.
    declined: bool = False

    def citation_dicts(self) -> list[dict[str, object]]:
        """The citations as JSON objects, as they are stored and streamed."""
        return [citation.model_dump() for citation in self.citations]


def validate_message(message: str, settings: Settings) -> str:
    """The message without surrounding blanks; empty or oversized ones are a 422."""
    text = message.strip()
    if not text:
        raise errors.ValidationFailed("message must not be empty")
    size = len(message.encode("utf-8"))
    if size > settings.max_message_bytes:
        raise errors.ValidationFailed(
            f"message is {size} bytes; the limit is {settings.max_message_bytes} bytes"
        )
    return text


def build_citations(chunks: Sequence[RetrievedChunk], answer: str) -> list[Citation]:
    """Citations for the passages the answer marks with ``[n]``; all passages if it marks none."""
    cited = {int(number) for number in _MARKER.findall(answer)}
    numbered = list(enumerate(chunks, 1))
    if cited & {index for index, _ in numbered}:
        numbered = [(index, chunk) for index, chunk in numbered if index in cited]
    return [_citation(index, chunk) for index, chunk in numbered]


def _citation(index: int, chunk: RetrievedChunk) -> Citation:
    snippet = " ".join(chunk.text.split())[:SNIPPET_CHARS]
    return Citation(
        index=index,
        document_id=chunk.document_id,
        external_id=chunk.external_id,
        title=chunk.title,
        chunk_id=chunk.chunk_id,
        snippet=snippet,
        score=chunk.score,
        location=chunking.heading_of(chunk.text),
    )
