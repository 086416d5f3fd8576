"""Raw encode throughput of the local embedding model: the yardstick for ingestion.

The ingestion bench compares its chunks/s with ``raw_encode_throughput`` on the same
chunks (issue 2 asks for at least 0.8x). ``python -m bench.encode`` prints sentences/s
and chunks/s for ~800-character chunks. The texts are generated from a fixed seed, so
runs are comparable; model loading and a warm-up batch are excluded from the timing.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Sequence

from ragagent.core.config import Settings
from ragagent.rag import embeddings
from ragagent.rag.types import Embedder

_CORPUS = (
    "the agent retrieves relevant chunks from postgresql with pgvector and full-text search "
    "then answers questions about documents with citations operators deploy replicas behind "
    "a service while the controller reconciles each resource status conditions report ready "
    "embeddings are computed in batches on cpu and stored next to their text so hybrid "
    "ranking can fuse vector similarity with keyword matches users chat over websockets or "
    "http streaming tokens as they arrive rate limits protect every identity and api keys "
    "are hashed before storage migrations run under an advisory lock at start-up"
)
_WORDS = _CORPUS.split()


def make_texts(count: int, chars: int, *, seed: int = 7) -> list[str]:
    """``count`` English-like texts of about ``chars`` characters, the same every run."""
    rng = random.Random(seed)  # noqa: S311 - a benchmark corpus, not a secret
    texts = []
    for _ in range(count):
        words: list[str] = []
        while sum(len(word) + 1 for word in words) < chars:
            words.append(rng.choice(_WORDS))
        texts.append(" ".join(words).capitalize()[:chars].rstrip() + ".")
    return texts


def raw_encode_throughput(texts: Sequence[str], *, embedder: Embedder | None = None) -> float:
    """Texts per second for one ``embed`` call over ``texts`` (loading excluded)."""
    embedder = embedder or embeddings.create_embedder(Settings())
    embedder.embed(texts[:8])  # loads the model and warms BLAS up
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description="Raw encode throughput of the local model.")
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--chunks", type=int, default=128)
    args = parser.parse_args()
    embedder = embeddings.create_embedder(Settings())
    sentences = raw_encode_throughput(make_texts(args.sentences, 80), embedder=embedder)
    chunks = raw_encode_throughput(make_texts(args.chunks, 800), embedder=embedder)
    # On a shared machine the load average explains most of the variation between runs.
    load = os.getloadavg()[0]
    print(
        f"encode: {sentences:.1f} sentences/s (~80 chars), {chunks:.1f} chunks/s (~800 chars); "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
