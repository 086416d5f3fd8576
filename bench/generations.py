"""Building an index generation beside the serving one: how long, and whether retrieval fails.

Ingests ``--chunks`` chunks (documents of five ~700-character paragraphs, one chunk
each) with a fast synthetic embedder as the serving generation, then builds a candidate
with another chunking (each paragraph cut in two) while a client searches the serving
generation without pause, then switches to it with the client still searching. Reports
the build and switch times and the searches that failed (must be 0). The synthetic
embedder (hashed word vectors) leaves the database's share of the time; with
``--minilm`` the candidate is embedded by the local MiniLM instead (a model change: the
client stops at the switch, as an old agent pod would be replaced).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence

import numpy as np

from bench._pg import bench_database
from bench._report import report
from bench.ingest import build_documents
from ragagent.core import errors, models
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import embedding_index
from ragagent.rag import embeddings, ingest, reindex, retrieval
from ragagent.rag.types import Embedder

PARAGRAPHS = 5
CANDIDATE = embedding_index.Chunking(size=400, overlap=40)


class HashedWords:
    """Sum of per-word pseudo-random unit vectors: instant, and similar texts stay close."""

    model_name = "bench-hashed-words"
    dimension = 384

    def __init__(self) -> None:
        self._words: dict[str, np.ndarray] = {}

    def _word(self, word: str) -> np.ndarray:
        if word not in self._words:
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest())
            self._words[word] = np.random.default_rng(seed).standard_normal(self.dimension)
        return self._words[word]

    def embed(self, texts: Sequence[str]) -> models.Vector:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split()[:200]:
                out[row] += self._word(word)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: models.Vector = out / np.maximum(norms, 1e-9)
        return unit


async def _search_until(db: Database, embedder: Embedder, stop: asyncio.Event) -> tuple[int, int]:
    """Search the serving generation until ``stop``; (searches, failures)."""
    done = failed = 0
    while not stop.is_set():
        try:
            found = await retrieval.retrieve(
                db=db,
                embedder=embedder,
                query=f"paragraph words {done}",
                top_k=5,
                candidates=40,
                rrf_k=60,
            )
            failed += not found
        except errors.AgentError:
            failed += 1
        done += 1
    return done, failed


async def run(chunks: int, minilm: bool) -> dict[str, float]:
    settings = Settings(chunk_size=800, chunk_overlap=0)
    serving = HashedWords()
    candidate: Embedder = embeddings.create_embedder(Settings()) if minilm else serving
    docs = build_documents(max(chunks // PARAGRAPHS, 1), PARAGRAPHS, seed=11)
    async with bench_database(settings) as db:
        for start in range(0, len(docs), 200):
            await ingest.ingest_documents(
                db=db, embedder=serving, settings=settings, docs=docs[start : start + 200]
            )
        stop = asyncio.Event()
        client = asyncio.create_task(_search_until(db, serving, stop))
        started = time.perf_counter()
        built = await reindex.create_candidate(
            db=db, embedder=candidate, chunking=CANDIDATE, batch_size=64
        )
        build_s = time.perf_counter() - started
        if minilm:
            stop.set()
        started = time.perf_counter()
        await reindex.switch(db=db, embedder=candidate, generation=built.generation)
        switch_s = time.perf_counter() - started
        stop.set()
        searches, failed = await client
    return {
        "serving chunks": chunks,
        "candidate chunks": built.chunks,
        "build s": round(build_s, 1),
        "switch s": round(switch_s, 2),
        "searches during": searches,
        "searches failed": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000, help="Serving chunks.")
    parser.add_argument("--minilm", action="store_true", help="Embed the candidate with MiniLM.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report("generations", asyncio.run(run(args.chunks, args.minilm)), width=28)


if __name__ == "__main__":
    main()
