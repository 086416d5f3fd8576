"""Re-index: re-embed every chunk with the configured model, re-chunking on a chunking change.

When the configured chunking differs from the recorded one (or none is recorded),
every document that keeps its parsed body is cut again. Documents ingested before
bodies were kept cannot be: their chunks are only re-embedded, and they are counted
and logged (ingesting them again stores a body). With the same chunking, the
chunks stay as they are and only get new vectors.

The slow part, cutting and embedding, runs first without holding any lock. While
it runs, a new model is refused for ingestion and retrieval (EmbeddingModelMismatch)
and the old vectors stay usable by nothing else; a new chunking refuses nothing,
so retrieval goes on over the old chunks. Then one short transaction drops the
HNSW index and the fixed dimension, replaces the re-chunked documents' chunks,
writes the other new vectors, fixes the new dimension, rebuilds the index and
records the new model and chunking, so readers see either the old index or the
new one. That transaction locks the chunks table. A document changed or deleted
since it was read is skipped there: its newer version, written by ingestion with
the configured chunking, stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ragagent.core import models
from ragagent.core.db import Connection, Database
from ragagent.db import documents as doc_sql
from ragagent.db import embedding_index
from ragagent.rag import chunking as chunker
from ragagent.rag.types import Embedder

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

_BODYLESS_CHUNKS = """SELECT c.id, c.text FROM chunks c JOIN documents d ON d.id = c.document_id
    WHERE d.body IS NULL ORDER BY c.id"""
_BODYLESS_DOCUMENTS = "SELECT count(*) AS n FROM documents WHERE body IS NULL"


@dataclass(frozen=True)
class ReindexResult:
    """What a re-index wrote.

    ``chunks``: chunks written with new vectors. ``rechunked``: documents cut again
    with the configured chunking. ``kept``: documents without a body that kept
    their chunks although the chunking changed. ``skipped``: documents changed or
    deleted while re-indexing, whose newer version was left alone.
    """

    chunks: int
    rechunked: int = 0
    kept: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class Recut:
    """A document cut again: the hash it had when read, and its new chunks."""

    document: doc_sql.DocumentBody
    chunks: list[str]


@dataclass(frozen=True)
class Plan:
    """The work read before embedding: documents to cut again, chunks to re-embed."""

    recut: list[Recut]
    chunk_ids: list[int]
    chunk_texts: list[str]
    kept: int

    @property
    def texts(self) -> list[str]:
        """Every text to embed: the new chunks in document order, then the kept chunks."""
        return [text for doc in self.recut for text in doc.chunks] + self.chunk_texts


async def reindex(
    *,
    db: Database,
    embedder: Embedder,
    chunking: embedding_index.Chunking,
    batch_size: int,
    on_progress: Progress | None = None,
) -> ReindexResult:
    """Re-embed all chunks, re-chunking first when ``chunking`` is not the recorded one.

    ``on_progress(done, total)`` is called after each embedded batch.
    """
    async with db.connection() as conn:
        plan = await read_plan(conn, chunking)
    if plan.kept:
        log.warning(
            "%d documents were ingested before their text was kept and keep their old "
            "chunks; ingest them again to re-chunk them with %s",
            plan.kept,
            chunking,
        )
    vectors = await _embed_all(embedder, plan.texts, batch_size, on_progress)
    wanted = embedding_index.IndexModel(embedder.model_name, embedder.dimension)
    async with db.connection() as conn, conn.transaction():
        # Document rows before the chunks table, the order ingestion locks them in,
        # so a concurrent ingest waits for this switch instead of deadlocking with it.
        current = await doc_sql.lock_hashes(conn, [doc.document.id for doc in plan.recut])
        await embedding_index.begin_reindex(conn)
        result = await _write(conn, plan, vectors, current)
        await embedding_index.finish_reindex(conn, wanted, chunking)
    return result


async def read_plan(conn: Connection, chunking: embedding_index.Chunking) -> Plan:
    """Cut every document with a body again when ``chunking`` is new; else re-embed all chunks."""
    record = await embedding_index.read_index_record(conn)
    if record is not None and record.chunking == chunking:
        ids, texts = await _chunks(conn, "SELECT id, text FROM chunks ORDER BY id")
        return Plan(recut=[], chunk_ids=ids, chunk_texts=texts, kept=0)
    recut = [
        Recut(doc, chunker.build_chunks(doc.body, size=chunking.size, overlap=chunking.overlap))
        for doc in await doc_sql.list_bodies(conn)
    ]
    ids, texts = await _chunks(conn, _BODYLESS_CHUNKS)
    cursor = await conn.execute(_BODYLESS_DOCUMENTS)
    row = await cursor.fetchone()
    return Plan(recut=recut, chunk_ids=ids, chunk_texts=texts, kept=int(row["n"]) if row else 0)


async def _chunks(conn: Connection, query: str) -> tuple[list[int], list[str]]:
    cursor = await conn.execute(query)
    rows = await cursor.fetchall()
    return [int(r["id"]) for r in rows], [str(r["text"]) for r in rows]


async def _embed_all(
    embedder: Embedder, texts: list[str], batch_size: int, on_progress: Progress | None
) -> models.Vector:
    parts = [np.empty((0, embedder.dimension), dtype=np.float32)]
    for start in range(0, len(texts), batch_size):
        parts.append(await asyncio.to_thread(embedder.embed, texts[start : start + batch_size]))
        if on_progress is not None:
            on_progress(min(start + batch_size, len(texts)), len(texts))
    return np.concatenate(parts)


async def _write(
    conn: Connection, plan: Plan, vectors: models.Vector, current: dict[int, str]
) -> ReindexResult:
    """Replace the re-cut documents' chunks (unless changed meanwhile), then re-embed the rest.

    ``current`` maps each re-cut document still there to its content hash now.
    """
    written = rechunked = 0
    for doc in plan.recut:
        size = len(doc.chunks)
        own, vectors = vectors[:size], vectors[size:]
        if current.get(doc.document.id) != doc.document.content_hash:
            continue
        await doc_sql.replace_chunks(conn, doc.document.id, doc.chunks, own)
        await doc_sql.set_chunk_count(conn, doc.document.id, size)
        written, rechunked = written + size, rechunked + 1
    await _update(conn, plan.chunk_ids, vectors)
    skipped = len(plan.recut) - rechunked
    return ReindexResult(written + len(plan.chunk_ids), rechunked, plan.kept, skipped)


async def _update(conn: Connection, ids: list[int], vectors: models.Vector) -> None:
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "UPDATE chunks SET embedding = %s WHERE id = %s",
            list(zip(vectors, ids, strict=True)),
        )
