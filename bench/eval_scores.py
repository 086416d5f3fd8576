"""The pure part of ``make eval``: BEIR metrics, fusing the legs' lists, decline counts.

Each query is searched once per leg; every fused figure comes from those two lists
and ``retrieval.build_fused``, the agent's own fusion, so a run scores any setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ragagent.rag import ranking_metrics, relevance, retrieval
from ragagent.rag.types import RetrievedChunk

Qrels = dict[str, dict[str, int]]
RETRIEVE_TOP_K = 100


@dataclass(frozen=True)
class LegScore:
    ndcg_at_10: float
    recall_at_100: float


@dataclass(frozen=True)
class Declines:
    """At ``threshold``: unanswerable queries declined, and answerable ones wrongly declined."""

    threshold: float
    declined: int
    unanswerable: int
    wrongly_declined: int
    answerable: int


# The agent's own metrics, which `ragagent index eval` gates a switch with.
build_ndcg = ranking_metrics.build_ndcg
build_recall = ranking_metrics.build_recall


def build_documents_ranking(results: list[dict[str, Any]]) -> list[str]:
    """Document ids in the order their best chunk appears."""
    return list(dict.fromkeys(str(r["external_id"]) for r in results))


@dataclass(frozen=True)
class Run:
    """One query's two legs, each ranked alone, best first."""

    query_id: str
    vector: list[RetrievedChunk]
    text: list[RetrievedChunk]


@dataclass(frozen=True)
class Fusion:
    """How the legs are fused: RRF's k, the text leg's weight, candidates per leg."""

    rrf_k: int
    text_weight: float = 1.0
    candidates: int = RETRIEVE_TOP_K


def build_fused_chunks(run: Run, fusion: Fusion, limit: int) -> list[RetrievedChunk]:
    """What the agent's fusion makes of the two legs' first ``fusion.candidates`` chunks."""
    by_id = {c.chunk_id: c for c in run.vector + run.text}
    lists = [[c.chunk_id for c in leg[: fusion.candidates]] for leg in (run.vector, run.text)]
    weights = [1.0, fusion.text_weight]
    fused = retrieval.build_fused(lists, k=fusion.rrf_k, limit=limit, weights=weights)
    return [by_id[chunk_id] for chunk_id, _ in fused]


def build_leg_score(rankings: dict[str, list[str]], qrels: Qrels) -> LegScore:
    """Mean nDCG@10 and recall@100 over the judged queries in ``rankings``."""
    judged = [qid for qid in rankings if qrels.get(qid)]
    if not judged:
        return LegScore(0.0, 0.0)
    ndcg = sum(build_ndcg(rankings[q], qrels[q], 10) for q in judged) / len(judged)
    recall = sum(build_recall(rankings[q], qrels[q], 100) for q in judged) / len(judged)
    return LegScore(ndcg, recall)


def build_scores(runs: list[Run], qrels: Qrels, fusion: Fusion) -> dict[str, LegScore]:
    """Per leg and fused, over the judged queries."""
    legs: dict[str, Callable[[Run], list[RetrievedChunk]]] = {
        "vector": lambda run: run.vector,
        "text": lambda run: run.text,
        "fused": lambda run: build_fused_chunks(run, fusion, RETRIEVE_TOP_K),
    }
    return {
        leg: build_leg_score({r.query_id: _documents(pick(r)) for r in runs}, qrels)
        for leg, pick in legs.items()
    }


def _documents(chunks: list[RetrievedChunk]) -> list[str]:
    return build_documents_ranking([{"external_id": c.external_id} for c in chunks])


def build_declines(
    runs: list[Run],
    qrels: Qrels,
    unanswerable: set[str],
    fusion: Fusion,
    *,
    threshold: float,
    top_k: int,
) -> Declines:
    """How often the answerer would decline, on unanswerable and on answerable queries."""
    declined = {
        r.query_id
        for r in runs
        if not relevance.is_relevant(build_fused_chunks(r, fusion, top_k), threshold)
    }
    answerable = {r.query_id for r in runs if qrels.get(r.query_id)}
    asked = {r.query_id for r in runs} & unanswerable
    return Declines(
        threshold, len(declined & asked), len(asked), len(declined & answerable), len(answerable)
    )
