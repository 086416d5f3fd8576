"""Ingestion throughput against the raw encode throughput of the same model on the same chunks.

Builds Markdown documents of several ~800-character paragraphs, chunks them
with the real chunker, measures ``embedder.embed`` over exactly those chunk
texts (bench.encode's yardstick), then ingests the documents through
``ingest_documents`` into an empty embedded PostgreSQL (parse, hash, chunk,
batched embedding in a worker thread, COPY, one transaction per document).
Each side runs ``--rounds`` times and the best round counts, which damps noise
from other processes on a shared machine. Goal: ratio >= 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from bench._pg import bench_database
from bench.encode import make_texts, raw_encode_throughput
from ragagent.core import models
from ragagent.core.config import Settings
from ragagent.rag import chunking, embeddings, ingest

log = logging.getLogger(__name__)


def build_documents(count: int, paragraphs: int, *, seed: int) -> list[models.DocumentInput]:
    texts = make_texts(count * paragraphs, 700, seed=seed)
    return [
        models.DocumentInput(
            text=f"# Document {d}\n\n" + "\n\n".join(texts[d * paragraphs : (d + 1) * paragraphs]),
            content_type="text/markdown",
            external_id=f"bench-{seed}-{d}",
            metadata={"bench": True},
        )
        for d in range(count)
    ]


def chunk_texts(docs: list[models.DocumentInput], settings: Settings) -> list[str]:
    return [
        chunk
        for doc in docs
        for chunk in chunking.build_chunks(
            chunking.normalise(doc.text), size=settings.chunk_size, overlap=settings.chunk_overlap
        )
    ]


async def ingest_throughput(
    settings: Settings, docs_per_round: int, rounds: int
) -> tuple[float, float, int]:
    """(best ingestion chunks/s, best raw encode chunks/s, chunks per round)."""
    embedder = embeddings.create_embedder(settings)
    best_ingest = best_raw = 0.0
    chunks = 0
    async with bench_database(settings) as db:
        for round_number in range(rounds):
            docs = build_documents(docs_per_round, 4, seed=round_number)
            texts = chunk_texts(docs, settings)
            chunks = len(texts)
            best_raw = max(best_raw, raw_encode_throughput(texts, embedder=embedder))
            started = time.perf_counter()
            results = await ingest.ingest_documents(
                db=db, embedder=embedder, settings=settings, docs=docs
            )
            elapsed = time.perf_counter() - started
            written = sum(r.chunks for r in results if r.outcome != "unchanged")
            best_ingest = max(best_ingest, written / elapsed)
    return best_ingest, best_raw, chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=40, help="Documents per round.")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings(ingest_samples_on_start=False)
    ingest_rate, raw_rate, chunks = asyncio.run(ingest_throughput(settings, args.docs, args.rounds))
    ratio = ingest_rate / raw_rate
    verdict = "ok" if ratio >= 0.8 else "BELOW GOAL"
    print(
        f"ingestion: {ingest_rate:.1f} chunks/s vs raw encode {raw_rate:.1f} chunks/s "
        f"on the same {chunks} chunks -> {ratio:.2f}x (goal >= 0.8x: {verdict})"
    )


if __name__ == "__main__":
    main()
