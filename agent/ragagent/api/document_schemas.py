"""Request and response bodies of the documents and retrieve resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragagent.db.documents import DocumentRow
from ragagent.rag.ingest import IngestResult
from ragagent.rag.types import RetrievedChunk


class DocumentCreate(BaseModel):
    """A document to ingest; the same ``external_id`` again replaces it when changed."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="The document body.")
    content_type: str = Field(
        "text/plain", description="text/plain, text/markdown or text/html (else 415)."
    )
    external_id: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="Client identity; defaults to a hash of the text.",
    )
    title: str | None = Field(None, max_length=300)
    source: str | None = Field(None, max_length=512, description="Where it came from; filterable.")
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free JSON, filterable by containment."
    )


class DocumentPublic(BaseModel):
    id: int
    external_id: str
    title: str
    source: str | None
    content_type: str
    content_hash: str
    metadata: dict[str, Any]
    char_count: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: DocumentRow) -> DocumentPublic:
        return cls.model_validate(row, from_attributes=True)


class DocumentList(BaseModel):
    items: list[DocumentPublic]
    total: int
    limit: int
    offset: int


class IngestPublic(BaseModel):
    """``unchanged`` means the stored document already had this content: nothing was written."""

    external_id: str
    outcome: Literal["created", "updated", "unchanged"]
    chunks: int
    document_id: int | None = None

    @classmethod
    def of(cls, result: IngestResult) -> IngestPublic:
        return cls.model_validate(result, from_attributes=True)


class RetrieveFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(None, description="Only documents with this source.")
    metadata: dict[str, Any] | None = Field(
        None, description="Only documents whose metadata contains this JSON object."
    )


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, description="The search text.")
    top_k: int | None = Field(None, ge=1, le=100, description="Defaults to retrieval_top_k.")
    filter: RetrieveFilter | None = None


class RetrievedChunkPublic(BaseModel):
    chunk_id: int
    document_id: int
    external_id: str
    title: str
    text: str
    score: float = Field(description="Reciprocal-rank-fusion score; higher is better.")
    ordinal: int = Field(description="Position of the chunk in its document, from 0.")
    source: str | None
    metadata: dict[str, Any]

    @classmethod
    def of(cls, chunk: RetrievedChunk) -> RetrievedChunkPublic:
        return cls.model_validate(chunk, from_attributes=True)


class RetrieveResponse(BaseModel):
    results: list[RetrievedChunkPublic] = Field(description="Best first.")
