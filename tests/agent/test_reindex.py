"""``reindex`` after a chunking change, on the real embedded PostgreSQL and local embedder.

A chunking change must change the chunks: every document that keeps its parsed body
is cut again into a new index generation, which the switch then serves with its chunking.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import embedding_index, migrate
from ragagent.rag import ingest, reindex, retrieval
from ragagent.rag.types import Embedder
from tests.agent import documents
from tests.agent.index_corpus import (
    SMALL,
    PausingEmbedder,
    migrations_before,
    open_database,
    store_the_old_way,
)

pytestmark = pytest.mark.db

HANDBOOK = "\n\n".join(
    [
        "# Handbook",
        "The office opens at nine and closes at six on weekdays.",
        "## Holidays",
        "Staff get 30 days of leave a year, and the office closes between the holidays.",
        "Unused leave can be carried over into the first quarter of the next year.",
        "## Travel",
        "Trains are booked in second class; flights only for trips over six hours.",
    ]
)
GARDEN = "\n\n".join(
    [
        "# Garden",
        "Tomatoes need full sun, rich soil and water at the roots every morning.",
        "Basil grows well beside them and keeps some of the pests away from the leaves.",
    ]
)


async def _reindex(
    db: Database, embedder: Embedder, chunking: embedding_index.Chunking
) -> reindex.ReindexResult:
    return await reindex.reindex(db=db, embedder=embedder, chunking=chunking, batch_size=8)


async def _chunks(db: Database, external_id: str) -> list[tuple[int, str]]:
    """(chunk id, text) of one document in the serving generation, in order."""
    async with db.connection() as conn:
        cursor = await conn.execute(
            "SELECT c.id, c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
            "JOIN embedding_index e ON e.generation = c.generation "
            "WHERE d.external_id = %s ORDER BY c.ordinal",
            (external_id,),
        )
        return [(int(r["id"]), str(r["text"])) for r in await cursor.fetchall()]


async def _record(db: Database) -> embedding_index.IndexRecord | None:
    async with db.connection() as conn:
        return await embedding_index.read_index_record(conn)


async def _chunk_count(db: Database, external_id: str) -> int:
    async with db.connection() as conn:
        cursor = await conn.execute(
            "SELECT chunk_count FROM documents WHERE external_id = %s", (external_id,)
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row["chunk_count"])


async def _top_document(db: Database, embedder: Embedder, query: str) -> str:
    found = await retrieval.retrieve(
        db=db, embedder=embedder, query=query, top_k=3, candidates=10, rrf_k=60
    )
    return found[0].external_id


async def test_reindex_after_a_chunking_change_re_chunks_and_records_the_chunking(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, documents.markdown(HANDBOOK, "hb"))
    before = await _chunks(db, "hb")
    assert await _record(db) == embedding_index.IndexRecord(
        embedding_index.IndexModel(embedder.model_name, embedder.dimension),
        ingest.build_chunking(pg_settings),
    )

    done = await _reindex(db, embedder, SMALL)

    after = await _chunks(db, "hb")
    assert len(after) > len(before)
    assert max(len(text) for _, text in after) <= SMALL.size
    assert done == reindex.ReindexResult(chunks=len(after), rechunked=1, generation=2)
    assert await _chunk_count(db, "hb") == len(after)
    record = await _record(db)
    assert record is not None
    assert record.chunking == SMALL
    assert await _top_document(db, embedder, "how many days of leave") == "hb"


async def test_a_second_reindex_with_the_same_chunking_cuts_no_document_again(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, documents.markdown(HANDBOOK, "hb"))
    await _reindex(db, embedder, SMALL)
    first = await _chunks(db, "hb")

    again = await _reindex(db, embedder, SMALL)

    assert again == reindex.ReindexResult(chunks=len(first), generation=3)
    assert [text for _, text in await _chunks(db, "hb")] == [text for _, text in first]


async def test_a_document_from_before_the_migration_keeps_its_chunks(
    pg_settings: Settings, embedder: Embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database at 0003 with a document, migrated: it has no body to cut again."""
    db = await open_database(pg_settings)
    try:
        await migrate.migrate(db, migrations_before(tmp_path, "0004"))
        await _store_at_0003(db, embedder, "old", GARDEN)
        await migrate.migrate(db)
        await documents.ingest(db, embedder, pg_settings, documents.markdown(HANDBOOK, "hb"))
        old_chunks = await _chunks(db, "old")

        with caplog.at_level(logging.WARNING, logger=reindex.__name__):
            done = await _reindex(db, embedder, SMALL)

        assert (done.rechunked, done.kept) == (1, 1)
        assert "1 documents were ingested before their text was kept" in caplog.text
        assert [t for _, t in await _chunks(db, "old")] == [t for _, t in old_chunks]
        assert max(len(text) for _, text in await _chunks(db, "hb")) <= SMALL.size
        assert await _top_document(db, embedder, "tomatoes and basil") == "old"
    finally:
        await db.close()


async def test_a_document_changed_while_re_indexing_is_caught_up_in_the_new_chunking(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, documents.markdown(HANDBOOK, "hb"))
    paused = PausingEmbedder(embedder)
    running = asyncio.create_task(_reindex(db, paused, SMALL))
    await asyncio.to_thread(paused.started.wait)
    changed = HANDBOOK.replace("30 days", "35 days")
    await documents.ingest(db, embedder, pg_settings, documents.markdown(changed, "hb"))
    paused.go_on.set()

    done = await running

    assert done.caught_up == 1
    after = [text for _, text in await _chunks(db, "hb")]
    assert any("35 days" in text for text in after)
    assert not any("30 days" in text for text in after)
    assert max(len(text) for text in after) <= SMALL.size


async def _store_at_0003(db: Database, embedder: Embedder, external_id: str, text: str) -> None:
    """The index record (model and dimension, no chunking yet) and one document, as the 0003
    schema held them."""
    async with db.connection() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO embedding_index (model, dimension) VALUES (%s, %s)",
            (embedder.model_name, embedder.dimension),
        )
        await store_the_old_way(conn, embedder, external_id, text, body=False)
