"""A ``building`` generation whose builder is gone (a rollout Job that crashed mid-build)
is dropped when the next rollout starts, on the real embedded PostgreSQL; one that a live
process is still building is never touched, however long it has been idle."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import embedding_index, generations
from ragagent.rag import index_eval, reindex, rollout
from ragagent.rag.types import Embedder
from tests.agent import documents
from tests.agent.gate_embedders import embedder_for
from tests.agent.index_corpus import CORPUS, SMALL, generation_states, start_paused_build

pytestmark = pytest.mark.db


async def _crashed_build(url: str, chunking: embedding_index.Chunking, dimension: int) -> int:
    """What a killed rollout Job leaves: a building generation with its lock taken, some
    chunks written, and then its session gone."""
    builder = await psycopg.AsyncConnection.connect(url, row_factory=psycopg.rows.dict_row)
    async with builder.transaction():
        model = embedding_index.IndexModel("all-MiniLM-L6-v2", dimension)
        generation = await embedding_index.create(builder, model, chunking, state="building")
        await generations.hold_build_lock(builder, generation)
        await builder.execute(
            "INSERT INTO chunks (generation, document_id, ordinal, text, embedding) "
            "SELECT %s, id, 0, 'half-written', embedding FROM chunks WHERE generation = 1",
            (generation,),
        )
    pid = builder.info.backend_pid
    await builder.close()
    await _gone(url, pid)
    return generation


async def _gone(url: str, pid: int) -> None:
    """Wait until the server has ended backend ``pid``: a client's close returns before the
    backend exits and frees its session locks, and a rollout that came first saw the lock
    held (a live builder) and kept the generation."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for _ in range(500):
            cursor = await conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
            if await cursor.fetchone() is None:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} still runs 5 s after its client closed")


async def _ingest_and_crash_a_build(db: Database, embedder: Embedder, pg_settings: Settings) -> int:
    """The corpus serving, and beside it the generation a crashed build left; its id."""
    await documents.ingest(db, embedder, pg_settings, *CORPUS)
    assert pg_settings.database_url is not None
    url = pg_settings.database_url.get_secret_value()
    left = await _crashed_build(url, SMALL, embedder.dimension)
    assert (await generation_states(db))[left] == "building"
    return left


async def _half_written(db: Database) -> int:
    async with db.connection() as conn:
        cursor = await conn.execute("SELECT count(*) AS n FROM chunks WHERE text = 'half-written'")
        row = await cursor.fetchone()
    return int(row["n"]) if row else 0


async def test_a_rollout_drops_the_generation_a_crashed_build_left(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    left = await _ingest_and_crash_a_build(db, embedder, pg_settings)
    plan = rollout.Plan(
        embedder=embedder,
        embedder_for=embedder_for(embedder),
        chunking=SMALL,
        batch_size=8,
        eval_set=None,
        limits=index_eval.Thresholds(),
        abandoned_after=0.0,
    )

    outcome = await rollout.rollout(db, plan)

    # The id is free again, so the new candidate takes it: what it holds is a full build.
    assert outcome.action == "switched"
    assert await generation_states(db) == {1: "retained", left: "serving"}
    assert await _half_written(db) == 0


async def test_a_generation_a_live_process_builds_is_never_dropped(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    paused, build = await start_paused_build(db, embedder, pg_settings)
    # Mid-build, idle or not: its builder holds the lock.
    try:
        dropped = await reindex.prune_abandoned(db, idle_seconds=0.0)
        states = await generation_states(db)
    finally:
        paused.go_on.set()
    built = await build

    assert dropped == []
    assert states == {1: "serving", built.generation: "building"}
    assert (await generation_states(db))[built.generation] == "ready"


async def test_an_idle_building_generation_younger_than_the_bound_stays(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    left = await _ingest_and_crash_a_build(db, embedder, pg_settings)

    assert await reindex.prune_abandoned(db, idle_seconds=3600.0) == []
    assert await reindex.prune_abandoned(db, idle_seconds=0.0) == [left]
    assert await generation_states(db) == {1: "serving"}
    assert await _half_written(db) == 0
