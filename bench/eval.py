"""Retrieval quality on BEIR-layout datasets: nDCG@10 and recall@100 per leg and fused.

``python -m bench.eval [--dataset DIR] [--sweep]`` always evaluates the generated
set (``bench.synthetic``), then DIR if given, which holds ``corpus.jsonl``
(``{_id, title, text, metadata?}``), ``queries.jsonl`` (``{_id, text, metadata?}``)
and ``qrels/test.tsv`` (``query-id  corpus-id  score`` with a header line). The
agent app is started in-process on a fresh embedded PostgreSQL (or
DATABASE_URL) and the corpus ingested in batches. Each query is embedded once and
searched by each leg alone (the agent's SQL); the fused figures apply the
agent's own fusion to those two lists, so one run scores any fusion setting
(``--sweep`` prints a grid). Chunks are mapped to their documents in rank order
(first occurrence wins). Gains are linear, as in BEIR's pytrec_eval.

Queries marked ``metadata.answerable = false`` have no relevant document: the
report says how often the answerer declines on them, next to how often it
wrongly declines on the judged ones.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import synthetic
from bench.eval_scores import (
    RETRIEVE_TOP_K,
    Declines,
    Fusion,
    LegScore,
    Qrels,
    Run,
    build_declines,
    build_scores,
)
from ragagent.core import models
from ragagent.core.config import Settings
from ragagent.core.embedded_pg import stop_embedded
from ragagent.db import embedding_index
from ragagent.main import create_app
from ragagent.rag import ingest, retrieval

log = logging.getLogger(__name__)

INGEST_GROUP = 64


@dataclass(frozen=True)
class EvalResult:
    """Every query's legs; the scores are computed from them for any fusion."""

    runs: list[Run]
    qrels: Qrels
    unanswerable: set[str]
    documents: int
    ingest_seconds: float
    retrieve_seconds: float

    @property
    def queries(self) -> int:
        return sum(1 for r in self.runs if self.qrels.get(r.query_id))

    def scores(self, fusion: Fusion) -> dict[str, LegScore]:
        return build_scores(self.runs, self.qrels, fusion)

    def declines(self, fusion: Fusion, *, threshold: float, top_k: int) -> Declines:
        return build_declines(
            self.runs, self.qrels, self.unanswerable, fusion, threshold=threshold, top_k=top_k
        )


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


async def collect_runs(state: Any, dataset: Path, wanted: set[str]) -> list[Run]:
    """Each wanted query embedded once, then searched by each leg alone."""
    runs: list[Run] = []
    index = embedding_index.IndexModel(state.embedder.model_name, state.embedder.dimension)
    for query in read_jsonl(dataset / "queries.jsonl"):
        if str(query["_id"]) not in wanted:
            continue
        text = str(query["text"])
        vector = (await asyncio.to_thread(state.embedder.embed, [text]))[0]
        legs = [
            await retrieval.search(
                db=state.db,
                wanted=index,
                vector=vector,
                query=text,
                top_k=RETRIEVE_TOP_K,
                candidates=RETRIEVE_TOP_K,
                rrf_k=state.settings.rrf_k,
                legs=(leg,),
            )
            for leg in retrieval.BOTH_LEGS
        ]
        runs.append(Run(str(query["_id"]), legs[0], legs[1]))
    return runs


def read_unanswerable(dataset: Path) -> set[str]:
    """Queries marked ``metadata.answerable = false``: no document answers them."""
    return {
        str(q["_id"])
        for q in read_jsonl(dataset / "queries.jsonl")
        if (q.get("metadata") or {}).get("answerable") is False
    }


async def run_eval(dataset: Path, settings: Settings) -> EvalResult:
    """Start the app in-process, ingest the corpus, run every judged and unanswerable query."""
    qrels = read_qrels(dataset / "qrels" / "test.tsv")
    unanswerable = read_unanswerable(dataset)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        started = time.perf_counter()
        documents = await ingest_corpus(app, dataset)
        ingest_seconds = time.perf_counter() - started
        started = time.perf_counter()
        wanted = {qid for qid, judged in qrels.items() if judged} | unanswerable
        runs = await collect_runs(app.state.ragagent, dataset, wanted)
        retrieve_seconds = time.perf_counter() - started
    return EvalResult(
        runs=runs,
        qrels=qrels,
        unanswerable=unanswerable,
        documents=documents,
        ingest_seconds=ingest_seconds,
        retrieve_seconds=retrieve_seconds,
    )


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


def build_fusion(settings: Settings) -> Fusion:
    """The fusion the agent is configured with."""
    return Fusion(settings.rrf_k, retrieval.TEXT_WEIGHT, settings.retrieval_candidates)


def build_report(name: str, result: EvalResult, settings: Settings) -> list[str]:
    """Per-leg and fused figures, then the decline rates at the configured threshold."""
    fusion = build_fusion(settings)
    lines = [
        f"eval {name}: {result.documents} documents, {result.queries} judged queries, "
        f"{len(result.unanswerable)} unanswerable; ingest {result.ingest_seconds:.1f} s, "
        f"retrieval {result.retrieve_seconds:.1f} s"
    ]
    for leg, score in result.scores(fusion).items():
        lines.append(
            f"  {leg:<7} nDCG@10 {score.ndcg_at_10:.4f}  recall@100 {score.recall_at_100:.4f}"
        )
    lines.append(
        f"  (fused: rrf_k {fusion.rrf_k}, text weight {fusion.text_weight}, "
        f"{fusion.candidates} candidates per leg)"
    )
    if result.unanswerable:
        lines.append(
            "  "
            + _decline_line(
                result.declines(
                    fusion, threshold=settings.answer_min_similarity, top_k=settings.retrieval_top_k
                )
            )
        )
    return lines


def _decline_line(d: Declines) -> str:
    return (
        f"decline at similarity < {d.threshold:.2f}: unanswerable declined {d.declined}/"
        f"{d.unanswerable} ({_share(d.declined, d.unanswerable)}), answerable wrongly "
        f"declined {d.wrongly_declined}/{d.answerable} ({_share(d.wrongly_declined, d.answerable)})"
    )


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def build_sweep(result: EvalResult, settings: Settings) -> list[str]:
    """Fused nDCG@10 over a grid of fusions, and decline rates over thresholds (for tuning)."""
    lines = ["  fusion sweep (rrf_k, text weight, candidates: fused nDCG@10, recall@100)"]
    for rrf_k in (10, 30, 60, 100):
        for weight in (0.5, 0.75, 1.0, 1.5):
            for candidates in (20, 40, 100):
                fused = result.scores(Fusion(rrf_k, weight, candidates))["fused"]
                lines.append(
                    f"    {rrf_k:>3} {weight:>4} {candidates:>3}: "
                    f"{fused.ndcg_at_10:.4f} {fused.recall_at_100:.4f}"
                )
    fusion = build_fusion(settings)
    for step in range(0, 13):
        threshold = 0.10 + 0.05 * step
        declines = result.declines(fusion, threshold=threshold, top_k=settings.retrieval_top_k)
        lines.append("    " + _decline_line(declines))
    return lines


def evaluate(name: str, dataset: Path, *, sweep: bool) -> list[str]:
    """One dataset on a fresh embedded database; the report lines."""
    with tempfile.TemporaryDirectory(prefix="ragagent-eval-") as data_dir:
        settings = build_settings(Path(data_dir))
        try:
            result = asyncio.run(run_eval(dataset, settings))
        finally:
            stop_embedded(Path(data_dir))
    report = build_report(name, result, settings)
    return report + build_sweep(result, settings) if sweep else report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # Empty (what `make eval` passes without DATASET=...) means the generated set only.
    parser.add_argument(
        "--dataset", default="", help="A BEIR-layout directory, besides the generated set."
    )
    parser.add_argument("--sweep", action="store_true", help="Also print the tuning grids.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    extra = Path(args.dataset) if args.dataset else None
    if extra is not None:
        for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
            if not (extra / name).is_file():
                parser.error(f"{extra / name} is missing (BEIR layout expected)")
    with tempfile.TemporaryDirectory(prefix="ragagent-eval-set-") as generated:
        sets = [("generated", synthetic.build_dataset(Path(generated)))]
        if extra is not None:
            sets.append((extra.name, extra))
        for name, dataset in sets:
            print("\n".join(evaluate(name, dataset, sweep=args.sweep)), flush=True)


if __name__ == "__main__":
    main()
