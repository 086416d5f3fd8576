"""The eval gate of index generations: score a generation, and decide whether to serve it.

With an evaluation set (JSON Lines, one query a line, as the operator mounts it from a
ConfigMap)::

    {"query": "How hot should green tea be?", "relevant": ["tea"]}
    {"query": "...", "relevant": {"handbook": 2, "faq": 1}}

each query is searched in the generation with the agent's own hybrid retrieval, and
its documents (external ids, in the order of their best chunk) are scored with nDCG@10
and recall@k against ``relevant`` (a list gives every id gain 1). Without a set, the
self-check samples the generation's chunks and searches each one's own text on the
vector leg alone: the chunk must come back. It shows whether the generation's vectors
find anything (a broken model, or a dimension mix-up, scores near 0); it cannot judge
a chunking, since any chunk finds itself, which is what an evaluation set is for.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ragagent.core import errors
from ragagent.core.db import Database
from ragagent.db import embedding_index, generations
from ragagent.rag import ranking_metrics, reindex, retrieval
from ragagent.rag.types import Embedder

Check = Literal["evalset", "self"]
# Chunks the self-check samples from a generation, and the recall cut-off by default.
SELF_CHECK_SAMPLE = 50
RECALL_K = 10
# A termination message is at most 4096 bytes.
MAX_REPORT_BYTES = 4096


@dataclass(frozen=True)
class EvalQuery:
    query: str
    relevant: dict[str, int]


@dataclass(frozen=True)
class Score:
    """A generation's mean scores over ``queries`` queries (``check`` says which kind)."""

    generation: int
    model: str
    dimension: int
    chunks: int
    ndcg_at_10: float
    recall_at_k: float
    queries: int


@dataclass(frozen=True)
class Thresholds:
    """What a candidate must reach: absolute minimums, and the most it may lose to serving."""

    min_ndcg: float = 0.0
    min_recall: float = 0.0
    max_ndcg_drop: float | None = None
    max_recall_drop: float | None = None


def read_eval_set(path: Path) -> list[EvalQuery]:
    """The queries of a JSON Lines file; raises BadRequest naming the first bad line."""
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            queries.append(build_eval_query(json.loads(line)))
        except (ValueError, TypeError, KeyError) as exc:
            raise errors.BadRequest(f"{path}:{number}: {exc}") from None
    if not queries:
        raise errors.BadRequest(f"{path}: no queries")
    return queries


def build_eval_query(item: dict[str, Any]) -> EvalQuery:
    relevant = item["relevant"]
    gains = (
        {str(k): int(v) for k, v in relevant.items()}
        if isinstance(relevant, dict)
        else {str(doc): 1 for doc in relevant}
    )
    if not str(item["query"]).strip() or not gains:
        raise ValueError("a query needs text and at least one relevant id")
    return EvalQuery(str(item["query"]), gains)


async def score(
    *,
    db: Database,
    generation: generations.Generation,
    embedder: Embedder,
    eval_set: Sequence[EvalQuery] | None,
    k: int = RECALL_K,
) -> Score:
    """``generation``'s scores with ``eval_set``, or the self-check without one.

    Raises EmbeddingModelMismatch when ``embedder`` is not the generation's model.
    """
    wanted = embedding_index.IndexModel(embedder.model_name, embedder.dimension)
    embedding_index.check_model(generation.model, wanted)
    queries = list(eval_set) if eval_set else await _self_check_queries(db, generation.id)
    legs: tuple[retrieval.Leg, ...] = retrieval.BOTH_LEGS if eval_set else ("vector",)
    ndcg = recall = 0.0
    for item in queries:
        vector = (await asyncio.to_thread(embedder.embed, [item.query]))[0]
        found = await retrieval.search(
            db=db,
            wanted=wanted,
            vector=vector,
            query=item.query,
            generation=generation.id,
            top_k=max(10, k) * 3,
            candidates=max(100, k * 3),
            rrf_k=60,
            legs=legs,
        )
        ranked = list(dict.fromkeys(c.external_id if eval_set else str(c.chunk_id) for c in found))
        ndcg += ranking_metrics.build_ndcg(ranked, item.relevant, 10)
        recall += ranking_metrics.build_recall(ranked, item.relevant, k)
    count = max(len(queries), 1)
    return Score(
        generation.id,
        generation.model.model,
        generation.model.dimension,
        generation.chunks,
        round(ndcg / count, 4),
        round(recall / count, 4),
        len(queries),
    )


async def _self_check_queries(db: Database, generation: int) -> list[EvalQuery]:
    """A fixed sample of the generation's chunks, each to be found by its own text."""
    async with db.connection() as conn:
        cursor = await conn.execute(
            "SELECT id, text FROM chunks WHERE generation = %s ORDER BY md5(id::text) LIMIT %s",
            (generation, SELF_CHECK_SAMPLE),
        )
        rows = await cursor.fetchall()
    return [EvalQuery(str(r["text"]), {str(r["id"]): 1}) for r in rows]


def build_refusal(candidate: Score, serving: Score | None, limits: Thresholds) -> str | None:
    """Why ``candidate`` must not serve, or None when it passes every threshold."""
    if candidate.queries == 0:
        return "the candidate has no chunks to evaluate"
    if candidate.ndcg_at_10 < limits.min_ndcg:
        return f"nDCG@10 {candidate.ndcg_at_10} is below the minimum {limits.min_ndcg}"
    if candidate.recall_at_k < limits.min_recall:
        return f"recall {candidate.recall_at_k} is below the minimum {limits.min_recall}"
    relative = limits.max_ndcg_drop is not None or limits.max_recall_drop is not None
    if serving is None:
        return "the serving generation could not be scored to compare" if relative else None
    if limits.max_ndcg_drop is not None and (
        candidate.ndcg_at_10 < serving.ndcg_at_10 - limits.max_ndcg_drop
    ):
        return (
            f"nDCG@10 {candidate.ndcg_at_10} is more than {limits.max_ndcg_drop} "
            f"below the serving generation's {serving.ndcg_at_10}"
        )
    if limits.max_recall_drop is not None and (
        candidate.recall_at_k < serving.recall_at_k - limits.max_recall_drop
    ):
        return (
            f"recall {candidate.recall_at_k} is more than {limits.max_recall_drop} "
            f"below the serving generation's {serving.recall_at_k}"
        )
    return None


# The embedder for a generation's model; None when this process cannot run that model.
EmbedderFor = Callable[[embedding_index.IndexModel], Embedder | None]


async def evaluate(
    *,
    db: Database,
    candidate: int,
    embedder_for: EmbedderFor,
    eval_set: Sequence[EvalQuery] | None,
    k: int = RECALL_K,
) -> tuple[Score, Score | None]:
    """Score ``candidate`` and the serving generation the same way, and store both scores.

    The serving score is None when it is the candidate, or its model cannot be run here.
    Raises NotFound for an unknown candidate, BadRequest when its model cannot be run.
    """
    async with db.connection() as conn:
        found = await generations.get(conn, candidate)
        serving = await generations.read_serving(conn)
    if found is None:
        raise errors.NotFound(f"no index generation {candidate}")
    embedder = embedder_for(found.model)
    if embedder is None:
        raise errors.BadRequest(f"the model {found.model.model} cannot be run here")
    scores = [await score(db=db, generation=found, embedder=embedder, eval_set=eval_set, k=k)]
    other = embedder_for(serving.model) if serving and serving.id != candidate else None
    if serving is not None and other is not None:
        scores.append(
            await score(db=db, generation=serving, embedder=other, eval_set=eval_set, k=k)
        )
    check = "evalset" if eval_set else "self"
    async with db.connection() as conn, conn.transaction():
        for each in scores:
            await generations.store_scores(conn, each.generation, {"check": check, **asdict(each)})
    return scores[0], scores[1] if len(scores) > 1 else None


@dataclass(frozen=True)
class Verdict:
    """The gate's decision: both scores, and why the candidate may not serve (None: it
    passed, and serves now if the gate switched)."""

    check: Check
    candidate: Score
    serving: Score | None
    refusal: str | None


async def gate(
    *,
    db: Database,
    candidate: int,
    embedder_for: EmbedderFor,
    eval_set: Sequence[EvalQuery] | None,
    limits: Thresholds,
    k: int = RECALL_K,
) -> Verdict:
    """Evaluate, then switch to ``candidate`` only if it passes ``limits``."""
    scored, serving = await evaluate(
        db=db, candidate=candidate, embedder_for=embedder_for, eval_set=eval_set, k=k
    )
    refusal = build_refusal(scored, serving, limits)
    embedder = embedder_for(embedding_index.IndexModel(scored.model, scored.dimension))
    if refusal is None and embedder is not None:
        await reindex.switch(db=db, embedder=embedder, generation=candidate)
    return Verdict("evalset" if eval_set else "self", scored, serving, refusal)


def build_report(verdict: Verdict, *, k: int) -> str:
    """One compact JSON line, short enough for a termination message (4096 bytes)."""
    report: dict[str, Any] = {
        "check": verdict.check,
        "k": k,
        "serving": asdict(verdict.serving) if verdict.serving else None,
        "candidate": asdict(verdict.candidate),
        "passed": verdict.refusal is None,
        "reason": verdict.refusal,
    }
    line = json.dumps(report, separators=(",", ":"))
    if len(line.encode()) > MAX_REPORT_BYTES:
        report["reason"] = (verdict.refusal or "")[:200]
        line = json.dumps(report, separators=(",", ":"))
    return line
