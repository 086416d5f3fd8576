"""Migration 0012 on a database an older agent claimed and filled: its chunks, BM25
statistics and HNSW index become generation 1, which serves as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import embedding_index, generations, migrate
from ragagent.rag import retrieval
from ragagent.rag.types import Embedder
from tests.agent import documents
from tests.agent.index_corpus import migrations_before, open_database, store_the_old_way

pytestmark = pytest.mark.db

TEXT = "Lighthouses warn ships away from rocks with a beam of light."


async def _fill_the_old_way(db: Database, embedder: Embedder) -> None:
    """What an agent before 0012 did: claim (fixed dimension, one HNSW index), then write."""
    async with db.connection() as conn, conn.transaction():
        await conn.execute("ALTER TABLE chunks ALTER COLUMN embedding TYPE vector(384)")
        await conn.execute(
            "CREATE INDEX chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops)"
        )
        await conn.execute(
            "INSERT INTO embedding_index (model, dimension, chunk_size, chunk_overlap) "
            "VALUES (%s, %s, 800, 120)",
            (embedder.model_name, embedder.dimension),
        )
        await store_the_old_way(conn, embedder, "lighthouse", TEXT, body=True)


async def test_a_filled_database_migrates_into_generation_one(
    pg_settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    db = await open_database(pg_settings)
    try:
        await migrate.migrate(db, migrations_before(tmp_path, "0012"))
        await _fill_the_old_way(db, embedder)

        assert "0012_index_generations" in await migrate.migrate(db)

        async with db.connection() as conn:
            found = await generations.list_all(conn)
            cursor = await conn.execute(
                "SELECT (SELECT array_agg(DISTINCT generation) FROM chunks) AS chunks, "
                "(SELECT array_agg(generation) FROM bm25_corpus) AS corpus, "
                "(SELECT count(*) FROM generation_documents WHERE generation = 1) AS held, "
                "to_regclass(%s) IS NOT NULL AS indexed",
                (embedding_index.hnsw_index_name(1),),
            )
            row = await cursor.fetchone()
        assert [(g.id, g.state, g.chunks, g.chunking) for g in found] == [
            (1, "serving", 1, embedding_index.Chunking(800, 120))
        ]
        assert row == {"chunks": [1], "corpus": [1], "held": 1, "indexed": True}
        hits = await retrieval.retrieve(
            db=db, embedder=embedder, query="what warns ships", top_k=1, candidates=10, rrf_k=60
        )
        assert [h.external_id for h in hits] == ["lighthouse"]
        doc = documents.markdown("Harbours shelter boats from storms.", "harbour")
        assert (await documents.ingest(db, embedder, pg_settings, doc))[0].outcome == "created"
    finally:
        await db.close()
