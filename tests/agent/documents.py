"""Documents for the ingestion, re-index and retrieval tests, and one call that ingests them."""

from __future__ import annotations

from typing import Any

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.models import DocumentInput
from ragagent.rag.ingest import IngestResult, ingest_documents
from ragagent.rag.types import Embedder


def markdown(text: str, external_id: str, **fields: Any) -> DocumentInput:
    """A Markdown document with this identity; ``fields`` sets the others (metadata, ...)."""
    return DocumentInput(text=text, content_type="text/markdown", external_id=external_id, **fields)


async def ingest(
    db: Database, embedder: Embedder, settings: Settings, *docs: DocumentInput
) -> list[IngestResult]:
    """``docs`` through the real ingestion pipeline, in one call."""
    return await ingest_documents(db=db, embedder=embedder, settings=settings, docs=list(docs))
