"""Re-embed every chunk with the configured model after the model changed.

Runs in one transaction holding the index lock: readers keep seeing the old
vectors (and get EmbeddingModelMismatch from the new model) until the commit
switches vectors, dimension, HNSW index and the recorded model together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ragagent.core.db import Connection, Database
from ragagent.db import embedding_index
from ragagent.rag.types import Embedder, Vector


async def reindex(
    *,
    db: Database,
    embedder: Embedder,
    batch_size: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Re-embed all chunks; returns how many. ``on_progress(done, total)`` after each batch."""
    wanted = embedding_index.IndexModel(embedder.model_name, embedder.dimension)
    async with db.connection() as conn, conn.transaction():
        await embedding_index.begin_reindex(conn)
        cursor = await conn.execute("SELECT id, text FROM chunks ORDER BY id")
        rows = await cursor.fetchall()
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            vectors = await asyncio.to_thread(embedder.embed, [str(r["text"]) for r in batch])
            await _update(conn, [int(r["id"]) for r in batch], vectors)
            if on_progress is not None:
                on_progress(start + len(batch), len(rows))
        await embedding_index.finish_reindex(conn, wanted)
    return len(rows)


async def _update(conn: Connection, ids: list[int], vectors: Vector) -> None:
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "UPDATE chunks SET embedding = %s WHERE id = %s",
            list(zip(vectors, ids, strict=True)),
        )
