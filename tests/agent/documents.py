"""Documents for the ingestion, re-index and retrieval tests, one call that ingests them,
and the retrieved chunks the answerer and prompt tests start from."""

from __future__ import annotations

from typing import Any

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.models import DocumentInput
from ragagent.rag.ingest import IngestResult, ingest_documents
from ragagent.rag.types import Embedder, RetrievedChunk


def markdown(text: str, external_id: str, **fields: Any) -> DocumentInput:
    """A Markdown document with this identity; ``fields`` sets the others (metadata, ...)."""
    return DocumentInput(text=text, content_type="text/markdown", external_id=external_id, **fields)


async def ingest(
    db: Database, embedder: Embedder, settings: Settings, *docs: DocumentInput
) -> list[IngestResult]:
    """``docs`` through the real ingestion pipeline, in one call."""
    return await ingest_documents(db=db, embedder=embedder, settings=settings, docs=list(docs))


def retrieved(n: int, text: str, *, score: float = 1.0) -> RetrievedChunk:
    """The chunk ranked ``n``th, of document ``doc-n`` titled ``Doc n``."""
    return RetrievedChunk(
        chunk_id=n,
        document_id=n,
        external_id=f"doc-{n}",
        title=f"Doc {n}",
        text=text,
        score=score,
        ordinal=0,
    )
