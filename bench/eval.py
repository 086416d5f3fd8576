"""Retrieval quality on a BEIR-layout dataset: nDCG@10 and recall@100 via POST /v1/retrieve.

``python -m bench.eval --dataset DIR`` where DIR holds ``corpus.jsonl``
(``{_id, title, text, metadata?}``), ``queries.jsonl`` (``{_id, text}``) and
``qrels/test.tsv`` (``query-id  corpus-id  score`` with a header line). The
agent app is started in-process on a fresh embedded PostgreSQL (or
DATABASE_URL), the corpus is ingested in batches, then every judged query goes
through the real HTTP route. Chunks are mapped to their documents in rank
order (first occurrence wins). Gains are linear, as in BEIR's pytrec_eval.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import math
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ragagent.core import models
from ragagent.core.config import Settings
from ragagent.core.embedded_pg import stop_embedded
from ragagent.main import create_app
from ragagent.rag import ingest

log = logging.getLogger(__name__)

Qrels = dict[str, dict[str, int]]
INGEST_GROUP = 64
RETRIEVE_TOP_K = 100


@dataclass(frozen=True)
class EvalResult:
    ndcg_at_10: float
    recall_at_100: float
    queries: int
    documents: int
    ingest_seconds: float
    retrieve_seconds: float


def build_ndcg(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """nDCG@k with linear gains; 0 when the query has no relevant document."""
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def build_recall(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the first k; 0 when none is relevant."""
    wanted = {doc for doc, gain in relevant.items() if gain > 0}
    return len(wanted.intersection(ranked[:k])) / len(wanted) if wanted else 0.0


def build_documents_ranking(results: list[dict[str, Any]]) -> list[str]:
    """Document ids in the order their best chunk appears."""
    return list(dict.fromkeys(str(r["external_id"]) for r in results))


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    with path.open(encoding="utf-8") as handle:
        rows = csv.reader(handle, delimiter="\t")
        for row in rows:
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # the header line, or a blank one
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def build_corpus(dataset: Path) -> Iterator[models.DocumentInput]:
    for record in read_jsonl(dataset / "corpus.jsonl"):
        title = str(record.get("title") or "")
        metadata = record.get("metadata")
        text = str(record.get("text") or "")
        yield models.DocumentInput(
            text=f"{title}\n\n{text}" if title else text,
            external_id=str(record["_id"]),
            title=title or None,
            metadata=metadata if isinstance(metadata, dict) else {},
        )


async def ingest_corpus(app: Any, dataset: Path) -> int:
    """Batched ingestion straight through the app's own pipeline and database."""
    state = app.state.ragagent
    count = 0
    group: list[models.DocumentInput] = []
    for doc in build_corpus(dataset):
        group.append(doc)
        if len(group) == INGEST_GROUP:
            count += await _ingest(state, group)
            group = []
    if group:
        count += await _ingest(state, group)
    return count


async def _ingest(state: Any, docs: list[models.DocumentInput]) -> int:
    await ingest.ingest_documents(
        db=state.db, embedder=state.embedder, settings=state.settings, docs=docs
    )
    return len(docs)


async def score_queries(
    client: httpx.AsyncClient, dataset: Path, qrels: Qrels
) -> tuple[float, float, int]:
    """Mean nDCG@10 and recall@100 over the judged queries."""
    ndcg = recall = 0.0
    judged = 0
    for query in read_jsonl(dataset / "queries.jsonl"):
        relevant = qrels.get(str(query["_id"]))
        if not relevant:
            continue
        response = await client.post(
            "/v1/retrieve", json={"query": query["text"], "top_k": RETRIEVE_TOP_K}
        )
        response.raise_for_status()
        ranked = build_documents_ranking(response.json()["results"])
        ndcg += build_ndcg(ranked, relevant, 10)
        recall += build_recall(ranked, relevant, 100)
        judged += 1
    return (ndcg / judged, recall / judged, judged) if judged else (0.0, 0.0, 0)


async def run_eval(dataset: Path, settings: Settings) -> EvalResult:
    """Start the app in-process, ingest the corpus, score every judged query."""
    qrels = read_qrels(dataset / "qrels" / "test.tsv")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        started = time.perf_counter()
        documents = await ingest_corpus(app, dataset)
        ingest_seconds = time.perf_counter() - started
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eval") as client:
            started = time.perf_counter()
            ndcg, recall, queries = await score_queries(client, dataset, qrels)
            retrieve_seconds = time.perf_counter() - started
    return EvalResult(ndcg, recall, queries, documents, ingest_seconds, retrieve_seconds)


def build_settings(data_dir: Path) -> Settings:
    """An isolated agent: its own embedded database, no auth, no samples, no metrics port."""
    return Settings(
        data_dir=data_dir,
        auth_disabled=True,
        ingest_samples_on_start=False,
        metrics_port=0,
        rate_limit_requests_per_minute=1_000_000,
        rate_limit_burst=1_000_000,
        preauth_requests_per_minute=1_000_000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="BEIR-layout directory.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        if not (args.dataset / name).is_file():
            parser.error(f"{args.dataset / name} is missing (BEIR layout expected)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ragagent-eval-") as data_dir:
        try:
            result = asyncio.run(run_eval(args.dataset, build_settings(Path(data_dir))))
        finally:
            stop_embedded(Path(data_dir))
    print(
        f"eval {args.dataset.name}: nDCG@10 {result.ndcg_at_10:.4f}, recall@100 "
        f"{result.recall_at_100:.4f} over {result.queries} queries and {result.documents} "
        f"documents; ingest {result.ingest_seconds:.1f} s, retrieval "
        f"{result.retrieve_seconds:.1f} s, total {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
