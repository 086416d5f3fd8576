"""Re-embed every chunk with the configured model after the model changed.

The slow part, embedding, runs first without holding any lock; while it runs,
ingestion and retrieval with the new model are refused (EmbeddingModelMismatch)
and the old vectors stay usable by nothing else. Then one short transaction
drops the HNSW index and the fixed dimension, writes the new vectors, fixes the
new dimension, rebuilds the index and records the new model, so readers see
either the old index or the new one. That transaction locks the chunks table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from ragagent.core.db import Connection, Database
from ragagent.db import embedding_index
from ragagent.rag.types import Embedder, Vector

Progress = Callable[[int, int], None]


async def reindex(
    *, db: Database, embedder: Embedder, batch_size: int, on_progress: Progress | None = None
) -> int:
    """Re-embed all chunks; returns how many. ``on_progress(done, total)`` after each batch."""
    async with db.connection() as conn:
        cursor = await conn.execute("SELECT id, text FROM chunks ORDER BY id")
        rows = await cursor.fetchall()
    ids = [int(r["id"]) for r in rows]
    vectors = await _embed_all(embedder, [str(r["text"]) for r in rows], batch_size, on_progress)
    wanted = embedding_index.IndexModel(embedder.model_name, embedder.dimension)
    async with db.connection() as conn, conn.transaction():
        await embedding_index.begin_reindex(conn)
        await _update(conn, ids, vectors)
        await embedding_index.finish_reindex(conn, wanted)
    return len(ids)


async def _embed_all(
    embedder: Embedder, texts: list[str], batch_size: int, on_progress: Progress | None
) -> Vector:
    parts = [np.empty((0, embedder.dimension), dtype=np.float32)]
    for start in range(0, len(texts), batch_size):
        parts.append(await asyncio.to_thread(embedder.embed, texts[start : start + batch_size]))
        if on_progress is not None:
            on_progress(min(start + batch_size, len(texts)), len(texts))
    return np.concatenate(parts)


async def _update(conn: Connection, ids: list[int], vectors: Vector) -> None:
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "UPDATE chunks SET embedding = %s WHERE id = %s",
            list(zip(vectors, ids, strict=True)),
        )
