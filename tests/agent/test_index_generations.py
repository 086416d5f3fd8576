"""Index generations on the real embedded PostgreSQL and the local embedder: a candidate is
built beside the serving generation while retrieval keeps answering, catches up what was
ingested, changed or deleted meanwhile, is switched to atomically, and switched back from.
"""

from __future__ import annotations

import asyncio

import pytest

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import documents as doc_sql
from ragagent.db import embedding_index
from ragagent.rag import reindex, retrieval
from ragagent.rag.types import Embedder
from tests.agent import documents
from tests.agent.index_corpus import (
    CORPUS,
    QUERIES,
    SMALL,
    generation_states,
    start_paused_build,
)

pytestmark = pytest.mark.db


async def _top(db: Database, embedder: Embedder, query: str) -> str | None:
    found = await retrieval.retrieve(
        db=db, embedder=embedder, query=query, top_k=3, candidates=20, rrf_k=60
    )
    return found[0].external_id if found else None


async def _texts(db: Database, generation: int, external_id: str) -> list[str]:
    async with db.connection() as conn:
        cursor = await conn.execute(
            "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.generation = %s AND d.external_id = %s ORDER BY c.ordinal",
            (generation, external_id),
        )
        return [str(r["text"]) for r in await cursor.fetchall()]


async def test_a_candidate_is_built_beside_the_serving_generation_and_catches_up(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    paused, building = await start_paused_build(db, embedder, pg_settings)
    # Mid-build: the serving generation answers, and ingestion writes to it.
    for query, expected in QUERIES:
        assert await _top(db, embedder, query) == expected
    tea = CORPUS[0].text.replace("80 degrees", "75 degrees")
    await documents.ingest(db, embedder, pg_settings, documents.markdown(tea, "tea"))
    await documents.ingest(
        db, embedder, pg_settings, documents.markdown("Kites fly best in steady wind.", "kite")
    )
    async with db.connection() as conn:
        gone = await doc_sql.get_document(conn, "bread")
        assert gone is not None
        await doc_sql.delete_document(conn, gone.id)
    paused.go_on.set()

    built = await building

    # The first pass read tea before it changed, and kite after it was added (on a later
    # page), and found bread gone when writing: only tea needed catching up.
    assert (built.rechunked, built.caught_up) == (len(CORPUS), 1)
    assert await generation_states(db) == {1: "serving", built.generation: "ready"}
    assert any("75 degrees" in text for text in await _texts(db, built.generation, "tea"))
    assert not any("80 degrees" in t for t in await _texts(db, built.generation, "tea"))
    assert await _texts(db, built.generation, "kite") == ["Kites fly best in steady wind."]
    assert max(len(t) for t in await _texts(db, built.generation, "zebra")) <= SMALL.size
    assert await _top(db, embedder, "what does a kite need") == "kite"


async def test_retrieval_never_fails_during_a_build_and_switch(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, *CORPUS)
    stop = asyncio.Event()
    answers: list[tuple[str | None, str]] = []

    async def ask_until_stopped() -> None:
        while not stop.is_set():
            for query, expected in QUERIES:
                answers.append((await _top(db, embedder, query), expected))

    asking = asyncio.create_task(ask_until_stopped())
    done = await reindex.reindex(db=db, embedder=embedder, chunking=SMALL, batch_size=8)
    stop.set()
    await asking
    during = len(answers)
    for query, expected in QUERIES:
        answers.append((await _top(db, embedder, query), expected))

    assert done.generation == 2
    assert await generation_states(db) == {1: "retained", 2: "serving"}
    # Every question, before, during and after the switch, found its document.
    assert during > 0
    assert [got for got, _ in answers] == [expected for _, expected in answers]


async def test_switching_back_to_the_retained_generation_catches_up_changed_documents(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, *CORPUS)
    await reindex.reindex(db=db, embedder=embedder, chunking=SMALL, batch_size=8)
    tea = CORPUS[0].text.replace("80 degrees", "75 degrees")
    await documents.ingest(db, embedder, pg_settings, documents.markdown(tea, "tea"))

    caught_up = await reindex.switch(db=db, embedder=embedder, generation=1)

    assert caught_up == 1
    assert await generation_states(db) == {1: "serving", 2: "retained"}
    assert any("75 degrees" in text for text in await _texts(db, 1, "tea"))
    async with db.connection() as conn:
        record = await embedding_index.read_index_record(conn)
        cursor = await conn.execute("SELECT chunk_count FROM documents WHERE external_id = 'zebra'")
        row = await cursor.fetchone()
    assert record is not None
    assert record.chunking != SMALL
    assert row is not None
    assert row["chunk_count"] == len(await _texts(db, 1, "zebra"))
    assert await _top(db, embedder, "how hot should the water be for green tea") == "tea"


async def test_prune_drops_retained_generations_past_the_newest_kept(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, *CORPUS)
    for _ in range(2):
        await reindex.reindex(db=db, embedder=embedder, chunking=SMALL, batch_size=8)

    assert await reindex.prune(db, keep=1) == [1]

    assert await generation_states(db) == {2: "retained", 3: "serving"}
    async with db.connection() as conn:
        cursor = await conn.execute(
            "SELECT (SELECT count(*) FROM chunks WHERE generation = 1) AS chunks, "
            "(SELECT count(*) FROM bm25_terms WHERE generation = 1) AS terms, "
            "to_regclass(%s) IS NULL AS dropped",
            (embedding_index.hnsw_index_name(1),),
        )
        row = await cursor.fetchone()
    assert row == {"chunks": 0, "terms": 0, "dropped": True}
    assert await _top(db, embedder, "animal with stripes") == "zebra"
