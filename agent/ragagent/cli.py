"""The ``ragagent`` command: serve, migrate, ingest, reindex (and sub-apps of others).

Every command uses ``DATABASE_URL`` when set, else the embedded PostgreSQL in
``RAGAGENT_DATA_DIR`` (``.data`` by default). Exit codes: 0 done, 1 failed,
2 usage or configuration error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from ragagent import cli_apikey, cli_backup, cli_index, cli_usage
from ragagent.cli_database import open_database
from ragagent.core import signals
from ragagent.core.config import ConfigError, Settings, load_settings, settings_class
from ragagent.core.errors import AgentError
from ragagent.db import migrate as migrations
from ragagent.rag import embeddings, ingest, sync, sync_items, sync_report, url_guard
from ragagent.rag import reindex as reindexing
from ragagent.rag.sources import Source, find_sources, read_inputs

app = typer.Typer(help="RagAgent: RAG chat over PostgreSQL + pgvector.", no_args_is_help=True)
app.add_typer(cli_apikey.app, name="apikey")
app.add_typer(cli_index.app, name="index")
cli_backup.register(app)
cli_usage.register(app)
# soft_wrap: a message is never broken into lines at the terminal's width, so a long path in
# an error stays whole and can be copied (or grepped) as printed.
console = Console(stderr=True, soft_wrap=True)


def _error(message: object, prefix: str = "") -> None:
    """Print an error in red, as plain text: a `[...]` in a path or a validation message is
    kept as written instead of being read as rich markup."""
    console.print(Text.assemble((prefix, "red"), str(message), style="" if prefix else "red"))


T = TypeVar("T")
INGEST_GROUP = 64  # documents per ingestion call: bounds memory, keeps batches full


def _settings(command: str, **overrides: object) -> Settings:
    """The settings ``command`` needs (only serve insists on the signing secret)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return load_settings(settings_class(command), **given)
    except ConfigError as exc:
        _error(exc)
        raise typer.Exit(2) from None


def _run(action: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine, turning agent errors into a message and exit code 1."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(action())
    except AgentError as exc:
        _error(exc.detail, prefix="error: ")
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the API server (embedded PostgreSQL unless DATABASE_URL is set)."""
    from ragagent import main

    # uvicorn drains on SIGTERM, then raises it again under the handler it found: the
    # default one ends the process as before (exit 0 as a container's PID 1), not main()'s.
    signals.default_sigterm()
    settings = _settings("serve", host=host, port=port)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]RagAgent[/bold] chat page: {base}/")
    console.print(f"  API docs: {base}/docs")
    if settings.metrics_port:
        console.print(f"  metrics:  http://{settings.host}:{settings.metrics_port}/metrics")
    main.serve(settings)


@app.command()
def migrate() -> None:
    """Apply pending database migrations (safe while other replicas run)."""
    settings = _settings("migrate")

    async def action() -> list[str]:
        async with open_database(settings, migrate=False) as db:
            return await migrations.migrate(db)

    applied = _run(action)
    console.print(f"applied: {', '.join(applied)}" if applied else "nothing to apply")
    console.print("database schema is at head")


@app.command(name="ingest")
def ingest_command(
    paths: Annotated[
        list[str], typer.Argument(help="Files, directories, globs, .jsonl files or http(s) URLs.")
    ],
    source: Annotated[str, typer.Option(help="Source recorded for files.")] = "file",
) -> None:
    """Ingest documents with a progress bar; unchanged documents are skipped."""
    settings = _settings("ingest")
    files = find_sources(paths)
    if not files:
        suffixes = ".md, .markdown, .txt, .html, .pdf, .docx, .pptx, .jsonl"
        _error(f"no ingestible files found ({suffixes})")
        raise typer.Exit(1)
    counts = _run(lambda: _ingest_files(settings, files, source))
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    console.print(f"ingested {sum(counts.values())} documents: {summary}")


async def _ingest_files(settings: Settings, files: list[Source], source: str) -> dict[str, int]:
    embedder = await asyncio.to_thread(embeddings.create_embedder, settings)
    counts: dict[str, int] = {}
    async with open_database(settings) as db:
        with _progress() as progress:
            task = progress.add_task("ingesting", total=None)
            groups = read_inputs(
                files,
                source=source,
                group_size=INGEST_GROUP,
                max_bytes=settings.max_document_bytes,
                policy=url_guard.AddressPolicy.of(
                    blocked=settings.url_fetch_blocked_networks,
                    allowed=settings.url_fetch_allowed_networks,
                ),
            )
            for group in groups:
                results = await ingest.ingest_documents(
                    db=db, embedder=embedder, settings=settings, docs=group
                )
                for result in results:
                    counts[result.outcome] = counts.get(result.outcome, 0) + 1
                progress.advance(task, len(group))
    return counts


@app.command(name="sync")
def sync_command(
    sources: Annotated[
        list[str], typer.Argument(help="configmap/<name>=<directory> or http(s) URL, each.")
    ],
    prune_unlisted: Annotated[
        bool, typer.Option(help="Also delete the documents of synced sources not listed.")
    ] = False,
) -> None:
    """Sync knowledge sources: add the new, replace the changed and delete the gone documents,
    each source in one transaction. Prints one JSON line per source. A source that could not
    be synced is reported there, not by the exit code (its Job succeeds, so the operator reads
    the report at once instead of after every retry); exit 1 only when the sync could not run
    (no database, no embedder)."""
    settings = _settings("sync")
    try:
        parsed = [sync_items.parse_source(text) for text in sources]
    except ValueError as exc:
        _error(exc)
        raise typer.Exit(2) from None

    async def action() -> list[sync.SourceReport]:
        embedder = await asyncio.to_thread(embeddings.create_embedder, settings)
        async with open_database(settings) as db:
            return await sync.sync_sources(
                db=db,
                embedder=embedder,
                settings=settings,
                sources=parsed,
                prune_unlisted=prune_unlisted,
            )

    reports = _run(action)
    for report in reports:
        typer.echo(report.model_dump_json())
    _leave_termination_message(sync_report.build_termination_message(reports))


def _leave_termination_message(line: str) -> None:
    """For the operator, which reads it from the pod status (nothing outside a pod)."""
    target = cli_backup.termination_log_path()
    if target is None:
        return
    try:
        target.write_text(line + "\n", encoding="utf-8")
    except OSError as exc:
        _error(f"termination message not written to {target}: {exc}")


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("documents"),
        TimeElapsedColumn(),
        console=console,
    )


@app.command()
def reindex(
    candidate: Annotated[
        bool, typer.Option(help="Only build the generation (as `ragagent index build`).")
    ] = False,
    keep: Annotated[int, typer.Option(min=0, help="Earlier generations to keep.")] = 1,
) -> None:
    """Build a generation with the configured model and chunking and serve it, ungated.

    The serving generation answers until the switch; the one it replaces is kept
    (``--keep``) so that ``ragagent index switch`` can go back to it at once.
    """
    if candidate:
        cli_index.build()
        return
    settings = _settings("reindex")

    async def action() -> reindexing.ReindexResult:
        embedder = await asyncio.to_thread(embeddings.create_embedder, settings)
        async with open_database(settings) as db:
            with _progress() as progress:
                task = progress.add_task("indexing documents", total=None)
                result = await reindexing.reindex(
                    db=db,
                    embedder=embedder,
                    chunking=ingest.build_chunking(settings),
                    batch_size=settings.embedding_batch_size,
                    on_progress=lambda done, total: progress.update(
                        task, completed=done, total=total
                    ),
                )
            await reindexing.prune(db, keep=keep)
            return result

    _print_reindexed(_run(action), settings)


def _print_reindexed(result: reindexing.ReindexResult, settings: Settings) -> None:
    console.print(f"re-embedded {result.chunks} chunks into generation {result.generation}")
    if result.rechunked or result.kept or result.caught_up:
        console.print(
            f"re-chunked {result.rechunked} documents (size {settings.chunk_size}, "
            f"overlap {settings.chunk_overlap}); {result.kept} without a stored body kept "
            f"their chunks; {result.caught_up} changed meanwhile were caught up"
        )


def main() -> None:
    signals.exit_on_sigterm()  # a Job's pod ends on the kubelet's SIGTERM, not its SIGKILL
    app()
