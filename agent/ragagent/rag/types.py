"""What the RAG pipeline, the services and the API pass around: the ``Embedder``
and ``LLM`` protocols, ranked chunks, citations and token usage.

Nothing here does I/O. Data the database layer needs too lives in ``core.models``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ragagent.core import models


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape ``(len(texts), dimension)``."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> models.Vector:
        """Synchronous and CPU-bound; async callers run it in a worker thread."""
        ...


class RetrievedChunk(BaseModel):
    """One ranked chunk with its fused score and its document's identity."""

    model_config = ConfigDict(frozen=True)

    chunk_id: int
    document_id: int
    external_id: str
    title: str
    text: str
    score: float = Field(description="Reciprocal-rank-fusion score; higher is better.")
    similarity: float | None = Field(
        None,
        description="Cosine similarity of the chunk to the query (None when not computed).",
    )
    ordinal: int = Field(description="Position of the chunk in its document, from 0.")
    source: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Citation(BaseModel):
    """What an answer cites: a 1-based marker ``[n]`` and the chunk behind it."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="The [n] marker in the answer.")
    document_id: int
    external_id: str
    title: str
    chunk_id: int
    snippet: str
    score: float
    location: str | None = Field(
        None,
        description="Where in the document the passage is: the section heading it sits under, "
        "e.g. 'p. 3' in a PDF, 'slide 2: Pumps' in a PPTX, or a heading of a DOCX or Markdown "
        "document; None when it has none.",
    )


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Completion:
    """An unstreamed completion's text and what it cost."""

    text: str
    usage: Usage


@dataclass(frozen=True)
class AnswerDelta:
    """A piece of a streamed answer; the last one carries ``usage``.

    ``degraded`` (on the last delta) says no LLM provider answered, so the offline
    extractive answerer did; ``incomplete`` says the provider failed after part of the
    answer was streamed, so the text ends early.
    """

    text: str
    usage: Usage | None = None
    degraded: bool = False
    incomplete: bool = False


class LLM(Protocol):
    """An answerer: the OpenAI-compatible provider or the offline extractive one."""

    @property
    def provider(self) -> str: ...

    @property
    def model(self) -> str: ...

    def stream(
        self, *, question: str, history: Sequence[models.ChatTurn], chunks: Sequence[RetrievedChunk]
    ) -> AsyncIterator[AnswerDelta]: ...

    async def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, timeout_seconds: float
    ) -> Completion | None:
        """A short, unstreamed completion for a side task (rewriting a follow-up); None
        when there is no model to ask or it did not answer in time. Best effort: it
        never raises for a provider failure."""
        ...
