"""Hybrid retrieval: pgvector cosine kNN plus PostgreSQL full-text search, fused by RRF.

Both candidate lists come from one SQL statement; reciprocal rank fusion is a
pure function (``build_fused``) so it can be tested without a database. The
query is embedded in a worker thread; the retrieval latency metric covers the
database work and fusion only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from ragagent.core import metrics
from ragagent.core.db import Connection, Database
from ragagent.db import embedding_index
from ragagent.rag.types import Embedder, RetrievedChunk, Vector

# HNSW explores at least this many neighbours however few candidates are asked for.
MIN_EF_SEARCH = 40
MAX_EF_SEARCH = 1000


@dataclass(frozen=True)
class RetrievalFilter:
    """Restrict results to one ``source`` and/or documents whose metadata contains ``metadata``."""

    source: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def is_empty(self) -> bool:
        return self.source is None and not self.metadata


def build_fused(
    rankings: Sequence[Sequence[int]], *, k: int, limit: int
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score(id) = sum over lists of 1 / (k + rank), rank from 1.

    Ties are broken by the best single rank, then by id, so results are stable.
    """
    scores: dict[int, float] = {}
    best: dict[int, int] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            best[item] = min(best.get(item, rank), rank)
    ordered = sorted(scores, key=lambda item: (-scores[item], best[item], item))
    return [(item, scores[item]) for item in ordered[:limit]]


async def retrieve(
    *,
    db: Database,
    embedder: Embedder,
    query: str,
    top_k: int,
    candidates: int,
    rrf_k: int,
    filter: RetrievalFilter | None = None,
) -> list[RetrievedChunk]:
    """The ``top_k`` best chunks for ``query``; an empty list when nothing matches.

    Raises EmbeddingModelMismatch when the index was built with another model.
    """
    vector = await asyncio.to_thread(_embed_query, embedder, query)
    wanted = embedding_index.IndexModel(embedder.model_name, embedder.dimension)
    return await search(
        db=db,
        wanted=wanted,
        vector=vector,
        query=query,
        top_k=top_k,
        candidates=candidates,
        rrf_k=rrf_k,
        filter=filter,
    )


def _embed_query(embedder: Embedder, query: str) -> Vector:
    started = time.perf_counter()
    vector: Vector = embedder.embed([query])[0]
    metrics.EMBEDDING_LATENCY.labels("query").observe(time.perf_counter() - started)
    return vector


async def search(
    *,
    db: Database,
    wanted: embedding_index.IndexModel,
    vector: Vector,
    query: str,
    top_k: int,
    candidates: int,
    rrf_k: int,
    filter: RetrievalFilter | None = None,
) -> list[RetrievedChunk]:
    """Retrieval with the query already embedded (what the latency benchmark times)."""
    started = time.perf_counter()
    active = filter if filter is not None and not filter.is_empty else None
    async with db.connection() as conn:
        recorded = await embedding_index.read_index_model(conn)
        embedding_index.check_model(recorded, wanted)
        if recorded is None:
            chunks: list[RetrievedChunk] = []
        else:
            chunks = await _search(conn, vector, query, top_k, candidates, rrf_k, active)
    metrics.RETRIEVAL_LATENCY.observe(time.perf_counter() - started)
    metrics.RETRIEVALS.inc()
    if not chunks:
        metrics.RETRIEVAL_EMPTY.inc()
    return chunks


async def _search(
    conn: Connection,
    vector: Vector,
    query: str,
    top_k: int,
    candidates: int,
    rrf_k: int,
    active: RetrievalFilter | None,
) -> list[RetrievedChunk]:
    ef_search = min(max(MIN_EF_SEARCH, 2 * candidates), MAX_EF_SEARCH)
    await conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef_search),))
    if active is not None:
        # Filters discard neighbours after the index scan; keep scanning until enough pass.
        await conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
    params = _params(vector, query, candidates, active)
    cursor = await conn.execute(build_candidates_sql(filtered=active is not None), params)
    rows = await cursor.fetchall()
    by_vector = [int(r["id"]) for r in rows if r["method"] == "vector"]
    by_text = [int(r["id"]) for r in rows if r["method"] == "text"]
    fused = build_fused([by_vector, by_text], k=rrf_k, limit=top_k)
    return await _load(conn, fused)


def _params(
    vector: Vector, query: str, candidates: int, active: RetrievalFilter | None
) -> dict[str, Any]:
    return {
        "vector": vector,
        "query": query,
        "n": candidates,
        "source": active.source if active else None,
        "metadata": Jsonb(active.metadata or {}) if active else None,
    }


_FILTER_JOIN = "JOIN documents d ON d.id = c.document_id"
_FILTER_WHERE = "(%(source)s::text IS NULL OR d.source = %(source)s) AND d.metadata @> %(metadata)s"


def build_candidates_sql(*, filtered: bool) -> str:
    """Both ranked candidate lists in one statement: (method, id) rows in rank order."""
    join = _FILTER_JOIN if filtered else ""
    vector_where = f"WHERE {_FILTER_WHERE}" if filtered else ""
    text_where = f"AND {_FILTER_WHERE}" if filtered else ""
    return f"""
        (SELECT 'vector' AS method, c.id FROM chunks c {join} {vector_where}
         ORDER BY c.embedding <=> %(vector)s LIMIT %(n)s)
        UNION ALL
        (SELECT 'text' AS method, c.id
         FROM chunks c {join}, websearch_to_tsquery('english', %(query)s) AS q
         WHERE c.tsv @@ q {text_where}
         ORDER BY ts_rank_cd(c.tsv, q) DESC, c.id LIMIT %(n)s)
    """


async def _load(conn: Connection, fused: list[tuple[int, float]]) -> list[RetrievedChunk]:
    if not fused:
        return []
    cursor = await conn.execute(
        """SELECT c.id, c.document_id, c.ordinal, c.text, d.external_id, d.title, d.source,
                  d.metadata
           FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ANY(%s)""",
        ([chunk_id for chunk_id, _ in fused],),
    )
    rows = {int(r["id"]): r for r in await cursor.fetchall()}
    return [_chunk(rows[cid], score) for cid, score in fused if cid in rows]


def _chunk(row: dict[str, Any], score: float) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=int(row["id"]),
        document_id=int(row["document_id"]),
        external_id=str(row["external_id"]),
        title=str(row["title"]),
        text=str(row["text"]),
        score=score,
        ordinal=int(row["ordinal"]),
        source=row["source"],
        metadata=dict(row["metadata"] or {}),
    )
