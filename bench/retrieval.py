"""Retrieval latency (p50/p99) at 100k chunks, query embedding excluded.

Generates ``--chunks`` synthetic chunks (random unit vectors and Zipf-distributed
pseudo-words, so full-text queries are selective the way real text is),
bulk-loads them with binary COPY, builds the HNSW index, then times
``retrieval.search`` -- the same hybrid SQL + fusion the API runs -- for
``--queries`` queries whose vectors are near stored chunks. Goal: p50 <= 15 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time

import numpy as np

from bench._pg import bench_database
from ragagent.core.config import Settings
from ragagent.core.db import Connection, Database
from ragagent.db import embedding_index, generations
from ragagent.rag import bm25, retrieval

log = logging.getLogger(__name__)

DIMENSION = 384
MODEL = embedding_index.IndexModel("bench-random", DIMENSION)
VOCABULARY = 20_000
WORDS_PER_CHUNK = 120


def build_vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=int(rng.integers(4, 10)))) for _ in range(size)]


def build_texts(count: int, words: list[str], rng: np.random.Generator) -> list[str]:
    """Texts whose word frequencies follow Zipf's law, like natural language."""
    ranks = np.minimum(rng.zipf(1.1, size=(count, WORDS_PER_CHUNK)), len(words)) - 1
    return [" ".join(words[r] for r in row) for row in ranks]


def build_vectors(count: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((count, DIMENSION), dtype=np.float32)
    unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


async def load_corpus(db: Database, count: int, rng: np.random.Generator) -> np.ndarray:
    """COPY ``count`` chunks in (index built after the load, which is much faster)."""
    words = build_vocabulary(VOCABULARY, rng)
    texts = build_texts(count, words, rng)
    vectors = build_vectors(count, rng)
    async with db.connection() as conn, conn.transaction():
        generation = await embedding_index.ensure_index_model(conn, MODEL)
        await conn.execute("DROP INDEX IF EXISTS " + embedding_index.hnsw_index_name(generation))
        await _copy(conn, generation, texts, vectors)
    started = time.perf_counter()
    async with db.connection() as conn:
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute(
            embedding_index.build_hnsw_sql(generation, DIMENSION, concurrently=False)
        )
    await _analyze(db)
    log.warning("HNSW index over %d vectors built in %.1f s", count, time.perf_counter() - started)
    return vectors


async def _copy(conn: Connection, generation: int, texts: list[str], vectors: np.ndarray) -> None:
    cursor = await conn.execute(
        "INSERT INTO documents (external_id, title, content_type, content_hash) "
        "VALUES ('bench', 'bench', 'text/plain', 'x') RETURNING id"
    )
    row = await cursor.fetchone()
    assert row is not None
    await generations.write_document(conn, generation, row["id"], "x", (texts, vectors))


async def _analyze(db: Database) -> None:
    async with db.connection() as conn:
        await conn.set_autocommit(True)
        await conn.execute("VACUUM ANALYZE chunks")
        await conn.execute("VACUUM ANALYZE documents")


def build_queries(
    vectors: np.ndarray, texts_words: list[str], count: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, str]]:
    """Query vectors near random stored chunks, with 2-3 words from the vocabulary."""
    picks = rng.integers(0, len(vectors), size=count)
    noisy = vectors[picks] + 0.3 * build_vectors(count, rng) / np.sqrt(DIMENSION) * 10
    noisy = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
    queries = []
    for vector in noisy:
        chosen = rng.choice(texts_words[:2000], size=int(rng.integers(2, 4)))
        queries.append((vector, " ".join(chosen)))
    return queries


async def time_queries(
    db: Database, queries: list[tuple[np.ndarray, str]], settings: Settings
) -> list[float]:
    timings = []
    for vector, text in queries:
        started = time.perf_counter()
        await retrieval.search(
            db=db,
            wanted=MODEL,
            vector=vector,
            query=text,
            **retrieval.build_ranking(settings),
        )
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def time_text_leg(db: Database, queries: list[tuple[np.ndarray, str]], n: int) -> list[float]:
    """The BM25 full-text leg alone: candidates by the GIN index, scores from the statistics."""
    statement = f"WITH {bm25.build_text_hits_sql(join='', also='')} SELECT id FROM text_hits"
    timings = []
    async with db.connection() as conn:
        for _, text in queries:
            started = time.perf_counter()
            cursor = await conn.execute(statement, {"query": text, "n": n, **bm25.build_params()})
            await cursor.fetchall()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


async def run(count: int, query_count: int) -> tuple[list[float], list[float]]:
    """Hybrid retrieval timings, then the BM25 leg's alone."""
    settings = Settings(ingest_samples_on_start=False)
    rng = np.random.default_rng(42)
    async with bench_database(settings) as db:
        vectors = await load_corpus(db, count, rng)
        words = build_vocabulary(VOCABULARY, np.random.default_rng(42))
        queries = build_queries(vectors, words, query_count, rng)
        await time_queries(db, queries[:20], settings)  # warm caches and the pool
        hybrid = await time_queries(db, queries, settings)
        return hybrid, await time_text_leg(db, queries, settings.retrieval_candidates)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    timings, text_leg = asyncio.run(run(args.chunks, args.queries))
    p50, p99 = percentile(timings, 0.5), percentile(timings, 0.99)
    verdict = "ok" if p50 <= 15 else "ABOVE GOAL"
    print(
        f"retrieval at {args.chunks} chunks ({args.queries} queries, embedding excluded): "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, mean {statistics.fmean(timings):.2f} ms "
        f"(goal p50 <= 15 ms: {verdict}); BM25 leg alone p50 "
        f"{percentile(text_leg, 0.5):.2f} ms, p99 {percentile(text_leg, 0.99):.2f} ms"
    )


if __name__ == "__main__":
    main()
