"""BM25 full-text ranking and its corpus statistics, on the real embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import LiteralString

import pytest

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.models import DocumentInput
from ragagent.db import documents as doc_sql
from ragagent.rag import bm25, retrieval
from ragagent.rag.ingest import ingest_documents
from ragagent.rag.types import Embedder

pytestmark = pytest.mark.db

# Words the english configuration keeps (no stop words) and maps one to one onto
# lexemes, so the reference below can count surface words.
TINY = {
    "a": "zebra zebra zebra savanna",
    "b": "zebra giraffe",
    "c": "giraffe giraffe savanna acacia acacia acacia acacia acacia",
    "d": "penguin glacier",
}


def reference_bm25(corpus: dict[str, str], query: str, k1: float, b: float) -> dict[str, float]:
    """Okapi BM25 straight from the textbook, with Lucene's non-negative idf."""
    docs = {key: text.split() for key, text in corpus.items()}
    n = len(docs)
    avgdl = sum(len(words) for words in docs.values()) / n
    scores: dict[str, float] = {}
    for key, words in docs.items():
        tf = Counter(words)
        score = 0.0
        for term in set(query.split()):
            df = sum(1 for other in docs.values() if term in other)
            if tf[term] == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf[term] * (k1 + 1) / (tf[term] + k1 * (1 - b + b * len(words) / avgdl))
        if score > 0:
            scores[key] = score
    return scores


async def _ingest(
    db: Database, embedder: Embedder, settings: Settings, corpus: dict[str, str]
) -> None:
    docs = [DocumentInput(text=text, external_id=key) for key, text in corpus.items()]
    await ingest_documents(db=db, embedder=embedder, settings=settings, docs=docs)


async def _bm25_scores(
    db: Database, query: str, *, k1: float = bm25.K1, b: float = bm25.B
) -> dict[str, float]:
    statement = (
        f"WITH {bm25.build_text_hits_sql(join='', also='')} "
        "SELECT d.external_id, h.relevance FROM text_hits h "
        "JOIN chunks c ON c.id = h.id JOIN documents d ON d.id = c.document_id"
    )
    async with db.connection() as conn:
        cursor = await conn.execute(
            statement, {"query": query, "n": 100, **bm25.build_params(k1=k1, b=b)}
        )
        return {str(r["external_id"]): float(r["relevance"]) for r in await cursor.fetchall()}


Statistics = tuple[tuple[int, int], dict[str, int]]
# The kept statistics, and the same computed from scratch over the chunks as they are now,
# both of generation 1 (bm25.GENERATION), the only one these tests' ingestion creates.
KEPT_CORPUS_SQL = (
    "SELECT chunk_count AS n, total_length AS len FROM bm25_corpus WHERE generation = 1"
)
KEPT_TERMS_SQL = "SELECT lexeme, df FROM bm25_terms WHERE generation = 1"
RECOUNT_CORPUS_SQL = (
    "SELECT count(*) AS n, coalesce(sum(bm25_length(tsv)), 0) AS len FROM chunks "
    "WHERE generation = 1"
)
RECOUNT_TERMS_SQL = (
    "SELECT lexeme, count(*) AS df FROM chunks, "
    "unnest(tsvector_to_array(tsv)) AS lexeme WHERE generation = 1 GROUP BY lexeme"
)


async def _statistics(db: Database) -> Statistics:
    return await _read_statistics(db, KEPT_CORPUS_SQL, KEPT_TERMS_SQL)


async def _recounted(db: Database) -> Statistics:
    return await _read_statistics(db, RECOUNT_CORPUS_SQL, RECOUNT_TERMS_SQL)


async def _read_statistics(
    db: Database, corpus_sql: LiteralString, terms_sql: LiteralString
) -> Statistics:
    """(chunk count, total length) and each lexeme's document frequency, as the SQL reads them."""
    async with db.connection() as conn:
        corpus = await (await conn.execute(corpus_sql)).fetchone()
        terms = await (await conn.execute(terms_sql)).fetchall()
    assert corpus is not None
    return (int(corpus["n"]), int(corpus["len"])), {str(t["lexeme"]): int(t["df"]) for t in terms}


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (2.0, 0.3), (0.9, 1.0)])
@pytest.mark.parametrize("query", ["zebra savanna", "acacia", "giraffe zebra penguin"])
async def test_scores_equal_the_textbook_formula_on_a_tiny_corpus(
    db: Database, embedder: Embedder, pg_settings: Settings, query: str, k1: float, b: float
) -> None:
    await _ingest(db, embedder, pg_settings, TINY)
    expected = reference_bm25(TINY, query, k1, b)
    got = await _bm25_scores(db, query, k1=k1, b=b)
    assert got.keys() == expected.keys()
    for key, score in expected.items():
        assert got[key] == pytest.approx(score, rel=1e-9)


async def test_any_query_term_is_enough_to_match(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await _ingest(db, embedder, pg_settings, TINY)
    # websearch_to_tsquery wanted every term: "unicorn" matched nothing, so nothing did.
    got = await _bm25_scores(db, "which unicorn lives on a glacier?")
    assert list(got) == ["d"]


async def test_a_term_in_most_chunks_selects_no_candidates_beside_a_rarer_one(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    corpus = {f"herd-{i}": f"zebra savanna grazing herd number {i}" for i in range(20)}
    corpus["okapi"] = "zebra stripes on an okapi"
    await _ingest(db, embedder, pg_settings, corpus)
    assert list(await _bm25_scores(db, "zebra okapi")) == ["okapi"]
    # Every query term is common: they select the candidates after all.
    assert len(await _bm25_scores(db, "zebra savanna")) == 21


async def test_the_rarer_term_outweighs_the_common_one(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await _ingest(db, embedder, pg_settings, TINY)
    got = await _bm25_scores(db, "zebra penguin")
    assert got["d"] > got["a"] > got["b"]


async def test_text_leg_alone_ranks_by_bm25(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await _ingest(db, embedder, pg_settings, TINY)
    chunks = await retrieval.retrieve(
        db=db,
        embedder=embedder,
        query="acacia trees or a glacier",
        top_k=5,
        candidates=10,
        rrf_k=60,
        legs=("text",),
    )
    assert [c.external_id for c in chunks] == ["c", "d"]
    assert all(c.similarity is not None and -1 <= c.similarity <= 1 for c in chunks)


async def test_statistics_follow_replace_delete_and_rollback(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await _ingest(db, embedder, pg_settings, TINY)
    assert await _statistics(db) == await _recounted(db) == ((4, 16), await _recounted_terms(db))
    await _ingest(db, embedder, pg_settings, {"a": "zebra okapi"})
    async with db.connection() as conn:
        document = await doc_sql.get_document(conn, "b")
        assert document is not None
        await doc_sql.delete_document(conn, document.id)
    before = await _statistics(db)
    assert before == await _recounted(db)
    assert before[0] == (3, 12)
    assert before[1]["okapi"] == 1
    assert "zebra" in before[1]
    with pytest.raises(RuntimeError, match="abandoned"):
        await _delete_everything_then_fail(db)
    assert await _statistics(db) == before


async def _delete_everything_then_fail(db: Database) -> None:
    async with db.connection() as conn:
        await conn.execute("DELETE FROM chunks")
        raise RuntimeError("abandoned")


async def _recounted_terms(db: Database) -> dict[str, int]:
    return (await _recounted(db))[1]


async def test_statistics_stay_exact_under_concurrent_ingest_and_delete(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    words = ["zebra", "giraffe", "savanna", "acacia", "penguin", "glacier", "okapi", "lemur"]
    corpus = {
        f"doc-{i}": " ".join(words[(i * j) % 8] for j in range(1, 6 + i % 5)) for i in range(24)
    }
    await _ingest(db, embedder, pg_settings, dict(list(corpus.items())[:12]))

    async def delete(key: str) -> None:
        async with db.connection() as conn:
            document = await doc_sql.get_document(conn, key)
            if document is not None:
                await doc_sql.delete_document(conn, document.id)

    writes = [
        _ingest(db, embedder, pg_settings, {key: text}) for key, text in list(corpus.items())[12:]
    ]
    deletes = [delete(f"doc-{i}") for i in range(0, 12, 2)]
    await asyncio.gather(*writes, *deletes)
    counted = await _recounted(db)
    assert counted[0][0] == 18
    assert await _statistics(db) == counted
