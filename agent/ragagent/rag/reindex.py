"""Building an index generation beside the serving one, and switching to it.

``create_candidate`` creates a generation for the configured model and chunking and
fills it page by page of documents while the serving generation keeps answering and
ingestion keeps writing to it: nothing here locks what they use. A document that keeps
its parsed body is cut with the candidate's chunking, unless that is the serving
generation's chunking, in which case the serving chunks' texts are reused; documents
ingested before bodies were kept always reuse them (they are counted as ``kept``).
Documents ingested, changed or deleted during the build are caught up afterwards:
``generation_documents`` says which version of each document the candidate holds,
deleted documents take their chunks in every generation with them.

``switch`` catches the candidate up once more, then, holding the index lock that every
ingestion write holds shared, catches up what is left and makes it the serving
generation in one transaction; the one serving before is kept (``retained``) for an
instant switch back, which catches up the same way. ``reindex`` is a build and a switch
with no evaluation in between.

A builder holds its generation's build lock (``generations.BUILD_LOCK``) from creating it
to marking it ``ready``, and records a heartbeat with each page it writes; a ``building``
generation whose lock is free and whose heartbeat is old lost its builder, and
``prune_abandoned`` drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict, Unpack

import numpy as np
import psycopg

from ragagent.core import errors, models
from ragagent.core.db import Connection, Database
from ragagent.db import embedding_index, generations
from ragagent.rag import chunking as chunker
from ragagent.rag.types import Embedder

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
# Documents read, embedded and written at a time: bounds the memory a build needs.
PAGE_DOCUMENTS = 200
# Catch-up rounds before the switch takes the lock (each round is the documents written
# during the one before, so they shrink fast unless ingestion outpaces embedding).
CATCH_UP_ROUNDS = 3


@dataclass(frozen=True)
class ReindexResult:
    """What a build wrote into ``generation``.

    ``chunks``: the generation's chunks at the end. ``rechunked``: documents cut with the
    generation's chunking. ``kept``: documents without a body that kept their chunks' texts
    although the chunking changed. ``caught_up``: documents written again because they
    changed, or were added, while the generation was built.
    """

    chunks: int
    rechunked: int = 0
    kept: int = 0
    caught_up: int = 0
    generation: int = 0


@dataclass
class _Counts:
    rechunked: int = 0
    kept: int = 0
    documents: int = 0


@dataclass(frozen=True)
class _Job:
    """A generation to fill: its id, the embedder of its model, its chunking."""

    generation: int
    embedder: Embedder
    chunking: embedding_index.Chunking
    batch_size: int


class Build(TypedDict):
    """What to build: with ``embedder``'s model, cut with ``chunking``, embedding
    ``batch_size`` texts a call; ``on_progress(done, total)`` after each page of documents."""

    embedder: Embedder
    chunking: embedding_index.Chunking
    batch_size: int
    on_progress: NotRequired[Progress | None]


async def reindex(*, db: Database, **build: Unpack[Build]) -> ReindexResult:
    """Build a generation and switch to it, ungated."""
    built = await create_candidate(db=db, **build)
    caught_up = await switch(db=db, embedder=build["embedder"], generation=built.generation)
    return ReindexResult(
        await _chunk_count(db, built.generation),
        built.rechunked,
        built.kept,
        built.caught_up + caught_up,
        built.generation,
    )


async def _chunk_count(db: Database, generation: int) -> int:
    async with db.connection() as conn:
        found = await generations.get(conn, generation)
    return found.chunks if found else 0


async def create_candidate(*, db: Database, **build: Unpack[Build]) -> ReindexResult:
    """Create, fill and index a generation (state ``ready``).

    On an unclaimed database the generation is created serving, as ingestion would.
    """
    embedder, chunking = build["embedder"], build["chunking"]
    wanted = embedding_index.IndexModel(embedder.model_name, embedder.dimension)
    async with _new_generation(db, wanted, chunking) as (generation, claimed):
        async with db.connection() as conn:
            total = await generations.count_behind(conn, generation)
        job = _Job(generation, embedder, chunking, build["batch_size"])
        counts = await _fill(db, job, build.get("on_progress"), total)
        caught_up = await _catch_up(db, job, rounds=CATCH_UP_ROUNDS)
        await _create_hnsw(db, generation, wanted.dimension)
        if not claimed:
            async with db.connection() as conn, conn.transaction():
                await generations.set_state(conn, generation, "ready")
    if counts.kept:
        log.warning(
            "%d documents were ingested before their text was kept and keep their old "
            "chunks; ingest them again to re-chunk them with %s",
            counts.kept,
            chunking,
        )
    chunks = await _chunk_count(db, generation)
    return ReindexResult(chunks, counts.rechunked, counts.kept, caught_up, generation)


@contextlib.asynccontextmanager
async def _new_generation(
    db: Database, wanted: embedding_index.IndexModel, chunking: embedding_index.Chunking
) -> AsyncIterator[tuple[int, bool]]:
    """Create a generation (serving when it claims an empty database, else ``building``)
    and hold its build lock on a connection of its own until the block ends; yields its id
    and whether it claimed the database. The lock is taken before the row commits, so no
    ``prune_abandoned`` ever sees the generation without it while this process lives."""
    async with db.connection() as holder:
        async with holder.transaction():
            serving = await generations.read_serving(holder)
            state: generations.State = "building" if serving else "serving"
            generation = await embedding_index.create(holder, wanted, chunking, state=state)
            await generations.hold_build_lock(holder, generation)
        try:
            yield generation, serving is None
        finally:
            # A broken connection has lost the lock with its session already.
            with contextlib.suppress(psycopg.OperationalError):
                await generations.release_build_lock(holder, generation)


async def prune_abandoned(db: Database, *, idle_seconds: float) -> list[int]:
    """Drop the ``building`` generations whose builder is gone (a crashed or killed Job):
    unwritten for ``idle_seconds`` and with their build lock free; returns their ids. One
    that a live process is building is never touched, however long it has been idle."""
    async with db.connection() as conn:
        stale = await generations.list_stale_building(conn, idle_seconds=idle_seconds)
    return [g for g in stale if await _drop_if_abandoned(db, g)]


async def _drop_if_abandoned(db: Database, generation: int) -> bool:
    async with db.connection() as conn:
        if not await generations.try_build_lock(conn, generation):
            return False
        # The lock is the session's: the drop below is a transaction of its own, committed
        # before the lock is let go.
        await conn.commit()
        try:
            async with conn.transaction():
                found = await generations.get(conn, generation)
                # Read again under the lock: its builder may have finished since the list.
                if found is None or found.state != "building":
                    return False
                await generations.delete(conn, generation)
        finally:
            await generations.release_build_lock(conn, generation)
    log.warning("dropped index generation %d: its build was abandoned", generation)
    return True


async def switch(*, db: Database, embedder: Embedder, generation: int) -> int:
    """Make ``generation`` the serving one; returns the documents caught up on the way.

    ``embedder`` must have the generation's model (it embeds what changed since the
    generation was written). Raises NotFound for an unknown generation and
    EmbeddingModelMismatch for another model. Serving goes on meanwhile; ingestion waits
    only for the last catch-up, which holds the index lock.
    """
    job = await _job_for(db, embedder, generation)
    caught_up = await _catch_up(db, job, rounds=CATCH_UP_ROUNDS)
    async with db.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (embedding_index.INDEX_LOCK,))
        caught_up += await _catch_up_on(conn, job)
        await _serve(conn, generation, embedder.dimension)
    return caught_up


async def catch_up(*, db: Database, embedder: Embedder, generation: int) -> int:
    """Write into ``generation`` the documents added or changed since it was written (and
    drop none: deleted documents take their chunks with them); documents written.

    What a candidate built a while ago needs before it is evaluated. Raises as ``switch``.
    """
    job = await _job_for(db, embedder, generation)
    return await _catch_up(db, job, rounds=CATCH_UP_ROUNDS)


async def _job_for(db: Database, embedder: Embedder, generation: int) -> _Job:
    async with db.connection() as conn:
        found = await generations.get(conn, generation)
    if found is None:
        raise errors.NotFound(f"no index generation {generation}")
    embedding_index.check_model(found.model, _model(embedder))
    chunking = found.chunking or embedding_index.Chunking(1, 0)
    return _Job(generation, embedder, chunking, 32)


async def _serve(conn: Connection, generation: int, dimension: int) -> None:
    await conn.execute(embedding_index.build_hnsw_sql(generation, dimension, concurrently=False))
    serving = await generations.read_serving(conn)
    if serving is not None and serving.id != generation:
        await generations.set_state(conn, serving.id, "retained")
    await generations.set_state(conn, generation, "serving")
    await generations.update_chunk_counts(conn, generation)


def _model(embedder: Embedder) -> embedding_index.IndexModel:
    return embedding_index.IndexModel(embedder.model_name, embedder.dimension)


async def _fill(db: Database, job: _Job, on_progress: Progress | None, total: int) -> _Counts:
    """Write every document the generation does not hold yet, a page at a time.

    Embedding happens between two short connections, holding no transaction open.
    """
    counts, after = _Counts(), 0
    while True:
        async with db.connection() as conn:
            page = await generations.list_behind(
                conn, job.generation, after=after, limit=PAGE_DOCUMENTS
            )
            texts = await _page_texts(conn, job, page)
        if not page:
            return counts
        vectors = await _embed_page(job, page, texts)
        async with db.connection() as conn, conn.transaction():
            await _write_page(conn, job, page, (texts, vectors), counts)
        after = page[-1].id
        if on_progress is not None:
            on_progress(counts.documents, max(total, counts.documents))


async def _catch_up(db: Database, job: _Job, *, rounds: int) -> int:
    """Rewrite what changed since it was written, up to ``rounds`` times; documents written."""
    written = 0
    for _ in range(rounds):
        done = (await _fill(db, job, None, 0)).documents
        written += done
        if done == 0:
            break
    return written


async def _catch_up_on(conn: Connection, job: _Job) -> int:
    """The last catch-up, on the caller's (locked) transaction; documents written."""
    counts = _Counts()
    while page := await generations.list_behind(
        conn, job.generation, after=0, limit=PAGE_DOCUMENTS
    ):
        texts = await _page_texts(conn, job, page)
        vectors = await _embed_page(job, page, texts)
        await _write_page(conn, job, page, (texts, vectors), counts)
    return counts.documents


# document id -> (the version written, its chunk texts, whether they were cut or kept).
_Texts = dict[int, tuple[str, list[str], str]]


async def _embed_page(
    job: _Job, page: Sequence[generations.Behind], texts: _Texts
) -> models.Vector:
    flat = [text for doc in page for text in texts[doc.id][1]]
    return await _embed_all(job.embedder, flat, job.batch_size)


async def _write_page(
    conn: Connection,
    job: _Job,
    page: Sequence[generations.Behind],
    embedded: tuple[_Texts, models.Vector],
    counts: _Counts,
) -> None:
    """Write one embedded page of documents into the generation."""
    texts, vectors = embedded
    # Documents deleted since the page was read are skipped; KEY SHARE keeps the rest
    # until commit without blocking ingestion's updates of them.
    cursor = await conn.execute(
        "SELECT id FROM documents WHERE id = ANY(%s) FOR KEY SHARE", ([d.id for d in page],)
    )
    present = {int(r["id"]) for r in await cursor.fetchall()}
    for doc in page:
        content_hash, own, how = texts[doc.id]
        mine, vectors = vectors[: len(own)], vectors[len(own) :]
        if doc.id in present:
            await generations.write_document(
                conn, job.generation, doc.id, content_hash, (own, mine)
            )
            counts.documents += 1
            counts.rechunked += how == "cut"
            counts.kept += how == "kept"
    await generations.touch(conn, job.generation)


async def _page_texts(conn: Connection, job: _Job, page: Sequence[generations.Behind]) -> _Texts:
    """Each document's version, chunk texts and how they were made ("cut", "reused", "kept").

    The serving generation's texts are reused for a document without a body ("kept"), and
    for one whose serving chunks were cut with the same chunking from the same version.
    """
    serving = await generations.read_serving(conn)
    reusable: dict[int, tuple[str, list[str]]] = {}
    if serving is not None and serving.id != job.generation:
        reusable = await generations.read_texts(conn, serving.id, [d.id for d in page])
    same_chunking = serving is not None and serving.chunking == job.chunking
    texts: _Texts = {}
    for doc in page:
        old = reusable.get(doc.id)
        if doc.body is None:
            texts[doc.id] = (*(old or (doc.content_hash, [])), "kept")
        elif same_chunking and old is not None and old[0] == doc.content_hash:
            texts[doc.id] = (*old, "reused")
        else:
            size, overlap = job.chunking.size, job.chunking.overlap
            cut = chunker.build_chunks(doc.body, size=size, overlap=overlap)
            texts[doc.id] = (doc.content_hash, cut, "cut")
    return texts


async def _embed_all(embedder: Embedder, texts: list[str], batch_size: int) -> models.Vector:
    parts = [np.empty((0, embedder.dimension), dtype=np.float32)]
    for start in range(0, len(texts), batch_size):
        parts.append(await asyncio.to_thread(embedder.embed, texts[start : start + batch_size]))
    return np.concatenate(parts)


async def _create_hnsw(db: Database, generation: int, dimension: int) -> None:
    """Build the generation's HNSW index without blocking ingestion (outside a transaction)."""
    async with db.connection() as conn:
        await conn.set_autocommit(True)
        try:
            await conn.execute(
                embedding_index.build_hnsw_sql(generation, dimension, concurrently=True)
            )
        finally:
            await conn.set_autocommit(False)


async def prune(db: Database, *, keep: int, max_age_days: float | None = None) -> list[int]:
    """Drop retained generations past the newest ``keep`` (or retired over ``max_age_days``
    ago), each in its own transaction; returns their ids. Never the serving or a candidate."""
    async with db.connection() as conn:
        doomed = await generations.list_prunable(conn, keep=keep, max_age_days=max_age_days)
    for generation in doomed:
        async with db.connection() as conn, conn.transaction():
            await generations.delete(conn, generation)
    return doomed
