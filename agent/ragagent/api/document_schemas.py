"""Request and response bodies of the documents and retrieve resources.

The document and chunk schemas derive from the agent's own models (``core.models``,
``rag``): the API adds its limits to what a client sends and names what it publishes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ragagent.core import models
from ragagent.rag.ingest import IngestResult
from ragagent.rag.types import RetrievedChunk


class DocumentCreate(models.DocumentInput):
    """A document to ingest; the same ``external_id`` again replaces it when changed."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="The document body.")
    external_id: str | None = Field(
        None,
        min_length=1,
        max_length=512,
        description="Client identity; defaults to a hash of the text.",
    )
    title: str | None = Field(None, max_length=300)
    source: str | None = Field(None, max_length=512, description="Where it came from; filterable.")


class DocumentPublic(models.Document):
    pass  # a stored document, published as it is read


class DocumentList(BaseModel):
    items: list[DocumentPublic]
    total: int
    limit: int
    offset: int


class IngestPublic(IngestResult):
    """``unchanged`` means the stored document already had this content: nothing was written."""


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


class RetrievedChunkPublic(RetrievedChunk):
    # Every field is always sent, so the published schema requires them all.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class RetrieveResponse(BaseModel):
    results: list[RetrievedChunkPublic] = Field(description="Best first.")
