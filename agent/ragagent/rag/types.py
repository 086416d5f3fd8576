"""What the RAG pipeline, the services and the API pass around: the ``Embedder``
and ``LLM`` protocols, ranked chunks, citations and token usage.

Nothing here does I/O. Data the database layer needs too lives in ``core.models``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
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
