"""The bundled sample knowledge base: RagAgent's own docs, so the demo is
"ask about RagAgent". Loaded on first start into an empty database."""

from __future__ import annotations

from importlib import resources

from ragagent.core import models
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import documents as doc_sql
from ragagent.rag import ingest
from ragagent.rag.types import Embedder

SAMPLE_SOURCE = "ragagent-docs"


def load_sample_documents() -> list[models.DocumentInput]:
    """One DocumentInput per bundled Markdown file, in name order."""
    folder = resources.files("ragagent") / "sample_docs"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".md")), key=lambda f: f.name)
    return [
        models.DocumentInput(
            text=f.read_text(encoding="utf-8"),
            content_type="text/markdown",
            external_id=f"{SAMPLE_SOURCE}/{f.name.removesuffix('.md')}",
            source=SAMPLE_SOURCE,
            metadata={"kind": "sample"},
        )
        for f in files
    ]


async def ingest_samples_if_empty(*, db: Database, embedder: Embedder, settings: Settings) -> int:
    """Ingest the samples when no document exists; returns how many were ingested.

    Two replicas racing here is harmless: the same external_ids and content
    hashes make the second one's writes no-ops.
    """
    async with db.connection() as conn:
        if await doc_sql.count_documents(conn) > 0:
            return 0
    results = await ingest.ingest_documents(
        db=db, embedder=embedder, settings=settings, docs=load_sample_documents()
    )
    return sum(1 for r in results if r.outcome != "unchanged")
