"""Hybrid retrieval: pgvector cosine kNN plus BM25 full-text search, fused by RRF.

Both candidate lists come from one SQL statement; reciprocal rank fusion is a
pure function (``build_fused``) so it can be tested without a database. The
query is embedded in a worker thread; the retrieval latency metric covers the
database work and fusion only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict, Unpack

from psycopg.types.json import Jsonb

from ragagent.core import metrics, models
from ragagent.core.config import Settings
from ragagent.core.db import Connection, Database
from ragagent.db import embedding_index
from ragagent.rag import bm25
from ragagent.rag.types import Embedder, RetrievedChunk

log = logging.getLogger(__name__)

# HNSW explores at least this many neighbours however few candidates are asked for.
MIN_EF_SEARCH = 40
MAX_EF_SEARCH = 1000

Leg = Literal["vector", "text"]
BOTH_LEGS: tuple[Leg, ...] = ("vector", "text")
# RRF weight of each leg's list. Tuned with `make eval --sweep` (generated set): at equal
# weights the fused nDCG@10 fell below the vector leg's alone (0.867 against 0.884); at
# half weight for the text leg it is level with it at rrf_k 60 (0.883) and above it at
# rrf_k 10 to 30 (0.889 to 0.891), the best weight at every rrf_k tried.
VECTOR_WEIGHT = 1.0
TEXT_WEIGHT = 0.5
_WEIGHTS: dict[Leg, float] = {"vector": VECTOR_WEIGHT, "text": TEXT_WEIGHT}


@dataclass(frozen=True)
class RetrievalFilter:
    """Restrict results to one ``source`` and/or documents whose metadata contains ``metadata``."""

    source: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def is_empty(self) -> bool:
        return self.source is None and not self.metadata


def build_fused(
    rankings: Sequence[Sequence[int]],
    *,
    k: int,
    limit: int,
    weights: Sequence[float] | None = None,
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score(id) = sum over lists of w / (k + rank), rank from 1.

    ``weights`` gives each list's w (1 for all when None). Ties are broken by the best
    single rank, then by id, so results are stable.
    """
    scores: dict[int, float] = {}
    best: dict[int, int] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            best[item] = min(best.get(item, rank), rank)
    ordered = sorted(scores, key=lambda item: (-scores[item], best[item], item))
    return [(item, scores[item]) for item in ordered[:limit]]


class Ranking(TypedDict):
    """How to rank: the ``top_k`` chunks wanted, the ``candidates`` each method proposes,
    RRF's ``rrf_k``, and an optional ``filter``.

    ``legs`` is internal (the evaluation scores each leg alone): the lists fused,
    both by default.
    """

    top_k: int
    candidates: int
    rrf_k: int
    filter: NotRequired[RetrievalFilter | None]
    legs: NotRequired[tuple[Leg, ...]]


def build_ranking(settings: Settings) -> Ranking:
    """The configured ranking (``retrieval_top_k``, ``retrieval_candidates``, ``rrf_k``)."""
    return Ranking(
        top_k=settings.retrieval_top_k,
        candidates=settings.retrieval_candidates,
        rrf_k=settings.rrf_k,
    )


async def retrieve(
    *, db: Database, embedder: Embedder, query: str, **ranking: Unpack[Ranking]
) -> list[RetrievedChunk]:
    """The ``top_k`` best chunks for ``query``; an empty list when nothing matches.

    Raises EmbeddingModelMismatch when neither the serving generation nor a retained
    one was built with the embedder's model.
    """
    vector = await asyncio.to_thread(_embed_query, embedder, query)
    wanted = embedding_index.IndexModel(embedder.model_name, embedder.dimension)
    return await search(db=db, wanted=wanted, vector=vector, query=query, **ranking)


def _embed_query(embedder: Embedder, query: str) -> models.Vector:
    started = time.perf_counter()
    vector: models.Vector = embedder.embed([query])[0]
    metrics.EMBEDDING_LATENCY.labels("query").observe(time.perf_counter() - started)
    return vector


async def search(
    *,
    db: Database,
    wanted: embedding_index.IndexModel,
    vector: models.Vector,
    query: str,
    generation: int | None = None,
    **ranking: Unpack[Ranking],
) -> list[RetrievedChunk]:
    """Retrieval with the query already embedded (what the latency benchmark times).

    Searches the serving generation, or, when it has another model than ``wanted``, the
    newest retained generation with ``wanted``'s model (a pod on the previous model during
    a roll). ``generation``, when given, is searched whatever its state (the evaluation
    scores a candidate; nothing is found there unless it has ``wanted``'s model).
    Everything goes to the server in one pipelined round trip (plus the commit): which
    generation serves, the HNSW setting and both candidate lists with their rows. The SQL
    names the generation (its partial HNSW index needs that), so it uses the generation
    last searched for the model, and asks again once after a switch.
    """
    started = time.perf_counter()
    explicit = generation is not None
    target = (
        embedding_index.Searched(generation, serving=False)
        if generation is not None
        else _last_searched.get(wanted, embedding_index.Searched(0))
    )
    found = await _search_once(db, wanted, vector, query, target, not explicit, ranking)
    if isinstance(found, embedding_index.Searched):
        _remember(wanted, found)
        target = found
        found = await _search_once(db, wanted, vector, query, target, True, ranking)
    chunks = found if isinstance(found, list) else []
    metrics.RETRIEVAL_LATENCY.observe(time.perf_counter() - started)
    metrics.RETRIEVALS.inc()
    if not explicit and not target.serving:
        metrics.RETRIEVAL_RETAINED.inc()
    if not chunks:
        metrics.RETRIEVAL_EMPTY.inc()
    return chunks


# The generation last searched for each model: its id goes into the SQL text.
_last_searched: dict[embedding_index.IndexModel, embedding_index.Searched] = {}


def _remember(wanted: embedding_index.IndexModel, searched: embedding_index.Searched) -> None:
    if not searched.serving and _last_searched.get(wanted) != searched:
        # Once per change, not per query: a pod on the previous model answers from the
        # generation it was built for until it is rolled to the serving model.
        log.warning(
            "the model %s (%d-d) no longer serves; searching the retained index generation "
            "%d until this process runs the serving model",
            wanted.model,
            wanted.dimension,
            searched.generation,
        )
    _last_searched[wanted] = searched


async def _search_once(
    db: Database,
    wanted: embedding_index.IndexModel,
    vector: models.Vector,
    query: str,
    target: embedding_index.Searched,
    checked: bool,
    ranking: Ranking,
) -> list[RetrievedChunk] | embedding_index.Searched:
    """The ranked chunks, or, when ``checked`` and another generation is the one to search
    for ``wanted`` now, that generation.

    Raises EmbeddingModelMismatch when ``checked`` and neither the serving generation nor
    a retained one has ``wanted``'s model; an empty list when nothing is indexed yet.
    """
    candidates, wanted_filter = ranking["candidates"], ranking.get("filter")
    active = wanted_filter if wanted_filter is not None and not wanted_filter.is_empty else None
    params = _params(vector, query, candidates, active, wanted, target.generation)
    statement = build_candidates_sql(
        filtered=active is not None,
        target=Target(target.generation, wanted.dimension, serving=target.serving),
    )
    async with db.connection() as conn:
        async with conn.pipeline():
            check = await conn.execute(embedding_index.READ_SEARCHED_SQL, params)
            await _tune(conn, candidates, filtered=active is not None)
            cursor = await conn.execute(statement, params)
        row = await check.fetchone()
        rows = await cursor.fetchall()
    if checked:
        searched = embedding_index.build_searched(row, wanted)
        if searched is None:
            return []
        if searched != target:
            return searched
    return build_ranked(
        rows, top_k=ranking["top_k"], rrf_k=ranking["rrf_k"], legs=ranking.get("legs", BOTH_LEGS)
    )


async def _tune(conn: Connection, candidates: int, *, filtered: bool) -> None:
    # ef_search below the LIMIT would return fewer neighbours than asked for; far
    # above it only costs latency, so it tracks the candidate count.
    ef_search = min(max(MIN_EF_SEARCH, candidates), MAX_EF_SEARCH)
    await conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef_search),))
    if filtered:
        # Filters discard neighbours after the index scan; keep scanning until enough pass.
        await conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")


def build_ranked(
    rows: Sequence[dict[str, Any]],
    *,
    top_k: int,
    rrf_k: int,
    legs: Sequence[Leg] = BOTH_LEGS,
) -> list[RetrievedChunk]:
    """Fuse the (method, rank, chunk row) candidates of ``legs`` into the final ranked chunks.

    Each chunk carries its cosine similarity to the query, whichever leg proposed it.
    """
    ordered = sorted(rows, key=lambda r: int(r["rank"]))
    lists = [[int(r["id"]) for r in ordered if r["method"] == leg] for leg in legs]
    by_id = {int(r["id"]): r for r in rows}
    weights = [_WEIGHTS[leg] for leg in legs]
    fused = build_fused(lists, k=rrf_k, limit=top_k, weights=weights)
    return [_chunk(by_id[cid], score) for cid, score in fused]


def _params(
    vector: models.Vector,
    query: str,
    candidates: int,
    active: RetrievalFilter | None,
    wanted: embedding_index.IndexModel,
    generation: int,
) -> dict[str, Any]:
    return {
        "vector": vector,
        "query": query,
        "n": candidates,
        "source": active.source if active else None,
        "metadata": Jsonb(active.metadata or {}) if active else None,
        "model": wanted.model,
        "dimension": wanted.dimension,
        **bm25.build_params(generation=generation),
    }


_FILTER_JOIN = "JOIN documents d ON d.id = c.document_id"
_FILTER_WHERE = "(%(source)s::text IS NULL OR d.source = %(source)s) AND d.metadata @> %(metadata)s"


@dataclass(frozen=True)
class Target:
    """The generation searched, its dimension, and whether it must be the serving one
    (otherwise any generation with the query's model: a retained one, or a candidate)."""

    generation: int
    dimension: int
    serving: bool = True


def _build_gate(target: Target) -> str:
    # Evaluated once before any distance: unless the generation has the query's model,
    # nothing is compared (the dimensions could differ) and the caller sees why.
    model = "model = %(model)s AND dimension = %(dimension)s"
    generation = int(target.generation)
    if target.serving:
        return f"EXISTS (SELECT 1 FROM embedding_index WHERE generation = {generation} AND {model})"
    return f"EXISTS (SELECT 1 FROM index_generations WHERE id = {generation} AND {model})"


def build_candidates_sql(*, filtered: bool, target: Target) -> str:
    """Both ranked candidate lists with their chunk and document columns, in one statement.

    The generation is a literal, not a parameter, so that the planner picks its partial
    HNSW index even for a prepared statement.
    """
    join = _FILTER_JOIN if filtered else ""
    also = f"AND c.generation = {int(target.generation)}"
    also += f" AND {_FILTER_WHERE}" if filtered else ""
    gate = _build_gate(target)
    embedding = embedding_index.build_vector_expression(target.dimension)
    return f"""
        WITH vector_hits AS (
            SELECT id, row_number() OVER (ORDER BY distance) AS rank FROM (
                SELECT c.id, {embedding} <=> %(vector)s AS distance FROM chunks c {join}
                WHERE {gate} {also}
                ORDER BY distance LIMIT %(n)s) AS nearest
        ), {bm25.build_text_hits_sql(join=join, also=also)}, hits AS (
            SELECT 'vector' AS method, id, rank FROM vector_hits
            UNION ALL SELECT 'text' AS method, id, rank FROM text_hits
        )
        SELECT h.method, h.rank, c.id, c.document_id, c.ordinal, c.text,
               CASE WHEN {gate} THEN 1 - ({embedding} <=> %(vector)s) END AS similarity,
               d.external_id, d.title, d.source, d.metadata
        FROM hits h JOIN chunks c ON c.id = h.id JOIN documents d ON d.id = c.document_id
    """


def _chunk(row: dict[str, Any], score: float) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=int(row["id"]),
        document_id=int(row["document_id"]),
        external_id=str(row["external_id"]),
        title=str(row["title"]),
        text=str(row["text"]),
        score=score,
        similarity=None if row["similarity"] is None else float(row["similarity"]),
        ordinal=int(row["ordinal"]),
        source=row["source"],
        metadata=dict(row["metadata"] or {}),
    )
