"""``ragagent index rollout``: make the configured index settings serve, in one Job.

The operator runs it when the embedding model, its dimension or the chunking changes,
before it rolls the agent pods to the new settings. It does the least that is needed:

- ``noop``: the serving generation has the configured model, dimension and chunking;
- ``reverted``: a retained generation has them. It served before, so it is switched back
  to without a gate, after catching up only the documents that changed since;
- ``switched`` or ``gated``: otherwise a candidate is evaluated and switched to only if
  it passes the thresholds. A ``ready`` generation with the settings is that candidate (it
  was built before but never served, so it is never trusted without the gate); else one
  is built now. A gated candidate stays ``ready``: running the command again re-evaluates
  it (say with other thresholds) instead of building it again.

Before anything else, ``building`` generations whose builder is gone (a crashed Job) are
dropped; at the end, retained generations past the newest ``keep`` are pruned (never the
serving one, nor a candidate). An unclaimed database is claimed for the configured
settings, as the first ingestion would, which is a ``noop``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ragagent.core.db import Database
from ragagent.db import embedding_index, generations
from ragagent.rag import index_eval, reindex
from ragagent.rag.types import Embedder

Action = Literal["noop", "reverted", "switched", "gated"]
# The termination message the kubelet keeps is at most 4096 bytes.
MAX_REPORT_BYTES = 4096
REASON_CUT = 200
# A building generation unwritten this long, with its build lock free, is abandoned. The lock
# alone decides for builders that take it; the bound spares a build started by an agent
# from before the lock, whose pages (and HNSW build) may take this long.
ABANDONED_AFTER_SECONDS = 3600.0
_CHECK_NAMES = {"evalset": "evalset", "self": "selfcheck"}
# What the report shows of a generation (ragagent index list's fields), before its scores.
_SUMMARY_KEYS = ("generation", "model", "dimension", "chunk_size", "chunk_overlap", "chunks")


@dataclass(frozen=True)
class Plan:
    """The configured settings and the gate: ``embedder`` (its model and dimension),
    ``chunking``, ``batch_size`` texts embedded a call; ``eval_set`` (None: the
    self-check), ``limits``, the ``k`` of recall@k; ``keep`` retained generations;
    ``abandoned_after`` seconds a building generation must be idle to count as abandoned.
    ``embedder_for`` runs the serving generation's model to score it too."""

    embedder: Embedder
    embedder_for: index_eval.EmbedderFor
    chunking: embedding_index.Chunking
    batch_size: int
    eval_set: Sequence[index_eval.EvalQuery] | None
    limits: index_eval.Thresholds
    k: int = index_eval.RECALL_K
    keep: int = 1
    abandoned_after: float = ABANDONED_AFTER_SECONDS

    @property
    def model(self) -> embedding_index.IndexModel:
        return embedding_index.IndexModel(self.embedder.model_name, self.embedder.dimension)


@dataclass(frozen=True)
class Outcome:
    """What the command did, the generation serving afterwards, and the gate's verdict
    (None when nothing was evaluated: ``noop`` and ``reverted``)."""

    action: Action
    serving: generations.Generation | None
    candidate: generations.Generation | None
    verdict: index_eval.Verdict | None


def is_configured(generation: generations.Generation, plan: Plan) -> bool:
    """Whether ``generation`` has the configured model, dimension and chunking."""
    return generation.model == plan.model and generation.chunking == plan.chunking


async def rollout(db: Database, plan: Plan) -> Outcome:
    """Make the configured settings serve (see the module docstring), then prune."""
    await reindex.prune_abandoned(db, idle_seconds=plan.abandoned_after)
    async with db.connection() as conn:
        found = await generations.list_all(conn)
    serving = next((g for g in found if g.state == "serving"), None)
    matching = [g for g in found if is_configured(g, plan)]
    retained = [g for g in matching if g.state == "retained"]
    verdict, candidate = None, None
    if serving is None:
        await _claim(db, plan)
        action: Action = "noop"
    elif is_configured(serving, plan):
        action = "noop"
    elif retained:
        await reindex.switch(db=db, embedder=plan.embedder, generation=retained[-1].id)
        action = "reverted"
    else:
        ready = [g.id for g in matching if g.state == "ready"]
        candidate = await _catch_up(db, plan, ready[-1]) if ready else await _build(db, plan)
        verdict = await index_eval.gate(
            db=db,
            candidate=candidate,
            embedder_for=plan.embedder_for,
            eval_set=plan.eval_set,
            limits=plan.limits,
            k=plan.k,
        )
        action = "switched" if verdict.refusal is None else "gated"
    await reindex.prune(db, keep=plan.keep)
    async with db.connection() as conn:
        after = await generations.read_serving(conn)
        evaluated = None if candidate is None else await generations.get(conn, candidate)
    return Outcome(action, after, evaluated, verdict)


async def _claim(db: Database, plan: Plan) -> None:
    async with db.connection() as conn, conn.transaction():
        await embedding_index.ensure_index_model(conn, plan.model, chunking=plan.chunking)


async def _catch_up(db: Database, plan: Plan, generation: int) -> int:
    # Built a while ago: without the documents ingested since, an evaluation set that
    # names them would gate it unfairly.
    await reindex.catch_up(db=db, embedder=plan.embedder, generation=generation)
    return generation


async def _build(db: Database, plan: Plan) -> int:
    built = await reindex.create_candidate(
        db=db, embedder=plan.embedder, chunking=plan.chunking, batch_size=plan.batch_size
    )
    return built.generation


def build_summary(generation: generations.Generation | None) -> dict[str, Any] | None:
    """A generation as the report shows it, with the scores last measured for it (None
    before any evaluation)."""
    if generation is None:
        return None
    public, scores = generation.to_public(), generation.scores or {}
    summary = {key: public[key] for key in _SUMMARY_KEYS}
    return {
        **summary,
        "ndcg_at_10": scores.get("ndcg_at_10"),
        "recall_at_k": scores.get("recall_at_k"),
    }


def build_report(outcome: Outcome, *, seconds: float) -> str:
    """One compact JSON line, short enough for a termination message (4096 bytes)."""
    verdict = outcome.verdict
    reason = verdict.refusal if verdict else None
    report: dict[str, Any] = {
        "action": outcome.action,
        "check": _CHECK_NAMES[verdict.check] if verdict else None,
        "passed": reason is None,
        "reason": reason,
        "seconds": seconds,
        "serving": build_summary(outcome.serving),
        "candidate": build_summary(outcome.candidate),
    }
    line = json.dumps(report, separators=(",", ":"))
    if len(line.encode()) > MAX_REPORT_BYTES:
        # Only the reason can grow (a model name is bounded by the settings).
        report["reason"] = (reason or "")[:REASON_CUT]
        line = json.dumps(report, separators=(",", ":"))
    return line
