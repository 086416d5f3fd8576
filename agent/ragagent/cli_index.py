"""``ragagent index``: index generations built beside the serving one, gated, switched, pruned.

``build`` writes a candidate generation for the configured model and chunking while the
serving one keeps answering; ``eval`` scores it and the serving one (nDCG@10, recall@k)
on an evaluation set or with the self-check; ``switch`` serves it, only if it passes the
thresholds given (none given: no gate, e.g. to switch back to a retained generation);
``list`` and ``prune`` show and drop generations; ``rollout`` does what the configured
settings need (nothing, a switch back, or build, gate and switch) and prunes, in one Job.
``build``, ``eval``, ``switch`` and ``rollout`` print one JSON line, also left as the pod's
termination message for the operator.
See docs/index-generations.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from ragagent.cli_database import load_command_settings, open_database
from ragagent.core import config, termination
from ragagent.core.config import ConfigError, Settings
from ragagent.core.db import Database
from ragagent.core.errors import AgentError, NotFound
from ragagent.db import embedding_index, generations
from ragagent.rag import embeddings, index_eval, ingest, reindex, rollout
from ragagent.rag.types import Embedder

app = typer.Typer(help="Build, evaluate, switch and prune index generations.", no_args_is_help=True)
EXIT_FAILED = 1
T = TypeVar("T")

GenerationOption = Annotated[
    int | None, typer.Option(help="The generation; default: the newest one not yet served.")
]
EvalSetOption = Annotated[
    Path | None,
    typer.Option(help="JSON Lines of queries and relevant external ids; default: self-check."),
]
KOption = Annotated[int, typer.Option(min=1, help="The k of recall@k.")]
MinNdcgOption = Annotated[float | None, typer.Option(help="Lowest nDCG@10 to serve.")]
MinRecallOption = Annotated[float | None, typer.Option(help="Lowest recall@k to serve.")]
MaxNdcgDropOption = Annotated[
    float | None, typer.Option(help="Most nDCG@10 may fall below the serving one's.")
]
MaxRecallDropOption = Annotated[
    float | None, typer.Option(help="Most recall@k may fall below the serving one's.")
]
KeepOption = Annotated[int, typer.Option(min=0, help="Retained generations to keep.")]


@dataclasses.dataclass(frozen=True)
class Gate:
    """What ``switch`` and ``rollout`` gate a candidate on, one Typer option a field (see
    ``gate_options``): the evaluation set (None: the self-check), k, and the thresholds."""

    eval_set: EvalSetOption = None
    k: KOption = 10
    min_ndcg: MinNdcgOption = None
    min_recall: MinRecallOption = None
    max_ndcg_drop: MaxNdcgDropOption = None
    max_recall_drop: MaxRecallDropOption = None

    @property
    def limits(self) -> index_eval.Thresholds:
        """The thresholds; an absent minimum is 0, an absent drop no bound."""
        return index_eval.Thresholds(
            self.min_ndcg or 0.0, self.min_recall or 0.0, self.max_ndcg_drop, self.max_recall_drop
        )

    def is_gated(self) -> bool:
        """Whether any threshold was given (none: a switch is not gated)."""
        given = (self.min_ndcg, self.min_recall, self.max_ndcg_drop, self.max_recall_drop)
        return any(value is not None for value in given)

    def read_queries(self) -> list[index_eval.EvalQuery] | None:
        """The evaluation set's queries; None for the self-check."""
        return index_eval.read_eval_set(self.eval_set) if self.eval_set else None


def gate_options(command: Callable[..., None]) -> Callable[..., None]:
    """Declare ``command``'s keyword-only ``gate: Gate`` parameter to Typer as ``Gate``'s
    fields, in its place, so both gated commands share one declaration of those options and
    of what they mean; the command is called with them gathered into one ``Gate``."""
    hints = get_type_hints(Gate, include_extras=True)
    fields = dataclasses.fields(Gate)
    expanded = [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name]
        )
        for f in fields
    ]
    signature = inspect.signature(command, eval_str=True)
    params = []
    for old in signature.parameters.values():
        params.extend(expanded if old.name == "gate" else [old])

    @functools.wraps(command)
    def run(**given: Any) -> None:
        gate = Gate(**{f.name: given.pop(f.name) for f in fields})
        command(**given, gate=gate)

    # Typer reads a command's options from its signature, which inspect takes from here.
    run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    return run


def _run(action: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; an agent error is printed and exits 1."""
    try:
        return asyncio.run(action())
    except AgentError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(EXIT_FAILED) from None


def _finish(line: str, *, failed: bool = False) -> None:
    typer.echo(line)
    termination.leave(line)
    if failed:
        raise typer.Exit(EXIT_FAILED)


def embedder_finder(settings: Settings, configured: Embedder) -> index_eval.EmbedderFor:
    """The configured embedder for its own model; for another, one built from the settings
    with that model, or None when that cannot be built here (the local provider runs only
    MiniLM)."""

    def embedder_for(model: embedding_index.IndexModel) -> Embedder | None:
        if model == embedding_index.IndexModel(configured.model_name, configured.dimension):
            return configured
        # The generation's model says which provider runs it, not the configured one: after
        # a change from the bundled MiniLM to an embeddings API, the serving generation is
        # MiniLM's, which no API serves under that name.
        local = model.model in config.LOCAL_EMBEDDING_MODEL_NAMES
        other = settings.model_copy(
            update={
                "embedding_provider": "local" if local else "openai",
                "embedding_model": model.model,
                "embedding_dimension": model.dimension,
            }
        )
        try:
            return embeddings.create_embedder(other)
        except ConfigError:
            return None

    return embedder_for


async def _newest_unserved(db: Database, given: int | None) -> int:
    if given is not None:
        return given
    async with db.connection() as conn:
        found = [g for g in await generations.list_all(conn) if g.state == "ready"]
    if not found:
        raise NotFound("no generation is ready to serve; run `ragagent index build`")
    return found[-1].id


@app.command()
def build() -> None:
    """Build a candidate generation with the configured model and chunking (not served)."""
    settings = load_command_settings("index")

    async def action() -> reindex.ReindexResult:
        embedder = await asyncio.to_thread(embeddings.create_embedder, settings)
        async with open_database(settings) as db:
            return await reindex.create_candidate(
                db=db,
                embedder=embedder,
                chunking=ingest.build_chunking(settings),
                batch_size=settings.embedding_batch_size,
            )

    started = time.perf_counter()
    result = _run(action)
    seconds = round(time.perf_counter() - started, 1)
    _finish(json.dumps({**asdict(result), "seconds": seconds}, separators=(",", ":")))


@app.command("eval")
def eval_command(
    generation: GenerationOption = None, eval_set: EvalSetOption = None, k: KOption = 10
) -> None:
    """Score a generation and the serving one: nDCG@10 and recall@k, as one JSON line."""
    settings = load_command_settings("index")
    queries = index_eval.read_eval_set(eval_set) if eval_set else None

    async def action() -> str:
        embedder = await asyncio.to_thread(embeddings.create_embedder, settings)
        async with open_database(settings) as db:
            candidate = await _newest_unserved(db, generation)
            scored, serving = await index_eval.evaluate(
                db=db,
                candidate=candidate,
                embedder_for=embedder_finder(settings, embedder),
                eval_set=queries,
                k=k,
            )
        check: index_eval.Check = "evalset" if queries else "self"
        return index_eval.build_report(index_eval.Verdict(check, scored, serving, None), k=k)

    _finish(_run(action))


@app.command()
@gate_options
def switch(generation: GenerationOption = None, *, gate: Gate) -> None:
    """Serve a generation: gated on the thresholds given, ungated without any (exit 1: refused)."""
    settings = load_command_settings("index")
    queries = gate.read_queries()

    async def action() -> tuple[str, bool]:
        embedder = await asyncio.to_thread(embeddings.create_embedder, settings)
        async with open_database(settings) as db:
            candidate = await _newest_unserved(db, generation)
            if not gate.is_gated():
                caught_up = await reindex.switch(db=db, embedder=embedder, generation=candidate)
                line = {"generation": candidate, "gated": False, "caught_up": caught_up}
                return json.dumps(line, separators=(",", ":")), True
            verdict = await index_eval.gate(
                db=db,
                candidate=candidate,
                embedder_for=embedder_finder(settings, embedder),
                eval_set=queries,
                limits=gate.limits,
                k=gate.k,
            )
            return index_eval.build_report(verdict, k=gate.k), verdict.refusal is None

    line, switched = _run(action)
    _finish(line, failed=not switched)


@app.command("rollout")
@gate_options
def rollout_command(*, gate: Gate, keep: KeepOption = 1) -> None:
    """Make the configured model and chunking serve: no-op, switch back, or build, gate and
    switch; then prune. Exits 0 when the gate refuses (that is an answer, not a failure)."""
    settings = load_command_settings("index")

    async def action() -> rollout.Outcome:
        queries = gate.read_queries()
        embedder = await asyncio.to_thread(embeddings.create_embedder, settings)
        plan = rollout.Plan(
            embedder=embedder,
            embedder_for=embedder_finder(settings, embedder),
            chunking=ingest.build_chunking(settings),
            batch_size=settings.embedding_batch_size,
            eval_set=queries,
            limits=gate.limits,
            k=gate.k,
            keep=keep,
        )
        async with open_database(settings) as db:
            return await rollout.rollout(db, plan)

    started = time.perf_counter()
    outcome = _run(action)
    _finish(rollout.build_report(outcome, seconds=round(time.perf_counter() - started, 1)))


@app.command("list")
def list_command() -> None:
    """Every generation, one JSON line each, oldest first."""
    settings = load_command_settings("index")

    async def action() -> list[generations.Generation]:
        async with open_database(settings) as db, db.connection() as conn:
            return await generations.list_all(conn)

    for found in _run(action):
        typer.echo(json.dumps(found.to_public(), separators=(",", ":")))


@app.command()
def prune(
    keep: KeepOption = 1,
    max_age_days: Annotated[
        float | None, typer.Option(help="Also drop those retired longer ago than this.")
    ] = None,
) -> None:
    """Drop retained generations past the newest ``--keep`` (and past ``--max-age-days``)."""
    settings = load_command_settings("index")

    async def action() -> list[int]:
        async with open_database(settings) as db:
            return await reindex.prune(db, keep=keep, max_age_days=max_age_days)

    typer.echo(json.dumps({"pruned": _run(action)}))
