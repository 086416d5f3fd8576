"""What the RAG pipeline, the services and the API pass around: the ``Embedder``
and ``LLM`` protocols, ranked chunks, citations and token usage.

Nothing here does I/O. Data the database layer needs too lives in ``core.models``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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


@dataclass(frozen=True)
class RetrievedChunk:
    """One ranked chunk with its fused score and its document's identity."""

    chunk_id: int
    document_id: int
    external_id: str
    title: str
    text: str
    score: float
    ordinal: int
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Citation:
    """What an answer cites: a 1-based marker ``[n]`` and the chunk behind it."""

    index: int
    document_id: int
    external_id: str
    title: str
    chunk_id: int
    snippet: str
    score: float


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class AnswerDelta:
    """A piece of a streamed answer; the last one carries ``usage``."""

    text: str
    usage: Usage | None = None


class LLM(Protocol):
    """An answerer: the OpenAI-compatible provider or the offline extractive one."""

    @property
    def provider(self) -> str: ...

    @property
    def model(self) -> str: ...

    def stream(
        self, *, question: str, history: Sequence[models.ChatTurn], chunks: Sequence[RetrievedChunk]
    ) -> AsyncIterator[AnswerDelta]: ...
