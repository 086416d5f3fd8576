"""Source sync: make the index hold exactly what each knowledge source holds now.

Per source: new documents are added, changed ones replaced, and the ones the
source no longer has deleted, all in one transaction, so a sync that fails
anywhere (a fetch, the embedder, the database) keeps the previous set whole.
Everything slow happens before that transaction: reading, parsing, chunking
and embedding (a source is a ConfigMap, at most 1 MiB, or one URL, so its
vectors fit in memory). Only documents whose content hash changed are embedded.

One source failing never stops the others; its report carries the reason.
Items that cannot be read are reported by name (see ``sync_items``) and keep
their stored copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ragagent.core import errors, metrics, models
from ragagent.core.config import Settings
from ragagent.core.db import Connection, Database
from ragagent.db import documents as doc_sql
from ragagent.db import embedding_index, generations, synced
from ragagent.rag import ingest, url_guard
from ragagent.rag.sync_items import ItemFailure, Items, SyncSource, read_configmap, read_url
from ragagent.rag.types import Embedder

log = logging.getLogger(__name__)


class SourceError(BaseModel):
    """Why a source's sync did not happen (its previous documents are kept)."""

    model_config = ConfigDict(frozen=True)

    reason: str
    message: str


class SourceReport(BaseModel):
    """What syncing one source did: the machine-readable line ``ragagent sync`` prints."""

    source: str
    documents: int = Field(0, description="Documents the source owns after the sync.")
    chunks: int = Field(0, description="Their chunks.")
    added: int = 0
    replaced: int = 0
    deleted: int = 0
    unchanged: int = 0
    unsupported: list[str] = Field(default_factory=list)
    failed: list[ItemFailure] = Field(default_factory=list)
    error: SourceError | None = None
    synced_at: str | None = Field(None, description="When the sync committed (RFC 3339).")
    seconds: float = 0.0


@dataclass(frozen=True)
class _Plan:
    """What one source's transaction writes: ``todo`` (the changed part of ``prepared``)
    with its ``vectors`` in order, and what ``items`` says to keep."""

    source: SyncSource
    items: Items
    prepared: Sequence[ingest.PreparedDocument]
    todo: Sequence[ingest.PreparedDocument]
    vectors: models.Vector


class _Failed(Exception):
    """A source's sync stopped; ``reason`` names the phase or the agent error."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


async def sync_sources(
    *,
    db: Database,
    embedder: Embedder,
    settings: Settings,
    sources: Sequence[SyncSource],
    prune_unlisted: bool = False,
) -> list[SourceReport]:
    """Sync each source in turn; with ``prune_unlisted``, delete the documents of synced
    sources not listed (the operator passes every source of the RagAgent)."""
    policy = url_guard.AddressPolicy.of(
        blocked=settings.url_fetch_blocked_networks, allowed=settings.url_fetch_allowed_networks
    )
    reports = [await sync_source(db, embedder, settings, source, policy) for source in sources]
    if prune_unlisted:
        async with db.connection() as conn, conn.transaction():
            gone = await synced.delete_unlisted(conn, [source.name for source in sources])
        reports += [SourceReport(source=name, deleted=n) for name, n in sorted(gone.items())]
    return reports


async def sync_source(
    db: Database,
    embedder: Embedder,
    settings: Settings,
    source: SyncSource,
    policy: url_guard.AddressPolicy,
) -> SourceReport:
    """Sync one source; never raises for a failure of the source itself."""
    started = time.monotonic()
    report = SourceReport(source=source.name)
    try:
        await _sync(db, embedder, settings, source, policy, report)
    except _Failed as exc:
        report.error = SourceError(reason=exc.reason, message=exc.message)
        await _count_kept(db, report)
    report.seconds = round(time.monotonic() - started, 3)
    if report.error is not None:
        log.warning("sync of %s failed (%s): %s", source.name, *report.error.model_dump().values())
    return report


async def _count_kept(db: Database, report: SourceReport) -> None:
    """After a failure: what the source still holds (its previous set), when readable."""
    with contextlib.suppress(Exception):  # the database may be what failed
        async with db.connection() as conn:
            counts = await synced.count_source(conn, report.source)
        report.documents, report.chunks = counts.documents, counts.chunks


async def _sync(
    db: Database,
    embedder: Embedder,
    settings: Settings,
    source: SyncSource,
    policy: url_guard.AddressPolicy,
    report: SourceReport,
) -> None:
    items = await _read(db, settings, source, policy)
    report.unsupported, report.failed = items.unsupported, list(items.failed)
    prepared = await asyncio.to_thread(_prepare_all, items, settings, report)
    wanted = embedding_index.IndexModel(embedder.model_name, embedder.dimension)
    async with _phase("DatabaseFailed"), db.connection() as conn:
        record = await embedding_index.read_index_record(conn)
        stored = await doc_sql.find_hashes(conn, [p.values.external_id for p in prepared])
    try:
        embedding_index.check_model(record.model if record else None, wanted)
    except errors.AgentError as exc:
        raise _Failed(type(exc).__name__, exc.detail) from None
    todo = [p for p in prepared if ingest.is_changed(p, stored.get(p.values.external_id))]
    report.unchanged = len(prepared) - len(todo) + (1 if items.not_modified else 0)
    async with _phase("EmbeddingFailed"):
        vectors = await asyncio.to_thread(_embed_all, embedder, settings, todo)
    plan = _Plan(source, items, prepared, todo, vectors)
    async with _phase("DatabaseFailed"):
        await _write(db, settings, plan, wanted, report)


async def _read(
    db: Database, settings: Settings, source: SyncSource, policy: url_guard.AddressPolicy
) -> Items:
    reason = "FetchFailed" if source.directory is None else "SourceUnreadable"
    async with _phase(reason):
        if source.directory is not None:
            return await asyncio.to_thread(
                read_configmap, source, max_bytes=settings.max_document_bytes
            )
        async with db.connection() as conn:
            stored = (await doc_sql.find_hashes(conn, [source.name])).get(source.name)
        return await asyncio.to_thread(
            read_url, source, stored, max_bytes=settings.max_document_bytes, policy=policy
        )


def _prepare_all(
    items: Items, settings: Settings, report: SourceReport
) -> list[ingest.PreparedDocument]:
    """Parse and chunk every item; one that fails is reported and its stored copy kept."""
    prepared = []
    for doc in items.inputs:
        try:
            prepared.append(ingest.build_prepared(doc, settings))
        except errors.AgentError as exc:
            name = str(doc.external_id).removeprefix(f"{report.source}/")
            failure = ItemFailure(name=name, reason=type(exc).__name__, message=exc.detail)
            report.failed.append(failure)
            items.keep.append(str(doc.external_id))
    return prepared


def _embed_all(
    embedder: Embedder, settings: Settings, todo: Sequence[ingest.PreparedDocument]
) -> models.Vector:
    """Every chunk of ``todo``, in order, embedded in batches."""
    texts = [chunk for doc in todo for chunk in doc.chunks]
    step = settings.embedding_batch_size * ingest.EMBED_CALL_BATCHES
    parts = [np.empty((0, embedder.dimension), dtype=np.float32)]
    for start in range(0, len(texts), step):
        batch = texts[start : start + step]
        vectors = embedder.embed(batch)
        if vectors.shape != (len(batch), embedder.dimension):
            raise errors.AgentError(f"embedder returned shape {vectors.shape} for {len(batch)}")
        parts.append(vectors)
    return np.concatenate(parts)


async def _write(
    db: Database,
    settings: Settings,
    plan: _Plan,
    wanted: embedding_index.IndexModel,
    report: SourceReport,
) -> None:
    """The one transaction of a source's sync: write the changed, claim all, prune the gone."""
    source, items, todo, vectors = plan.source, plan.items, plan.todo, plan.vectors
    current = [p.values.external_id for p in plan.prepared] + items.keep
    async with db.connection() as conn, conn.transaction():
        generation = 0
        if todo:
            chunking = ingest.build_chunking(settings)
            generation = await embedding_index.ensure_index_model(conn, wanted, chunking=chunking)
        offset = 0
        for doc in todo:
            size = len(doc.chunks)
            chunks = (doc.chunks, vectors[offset : offset + size])
            await _write_document(conn, generation, doc, chunks, report)
            offset += size
        await synced.claim(conn, source.name, current)
        if source.directory is None:
            await synced.set_validators(conn, source.name, items.etag, items.last_modified)
        gone = await synced.delete_gone(conn, source.name, current, items.keep_prefixes)
        counts = await synced.count_source(conn, source.name)
    report.deleted, report.documents, report.chunks = len(gone), counts.documents, counts.chunks
    report.synced_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _count_metrics(report, sum(len(doc.chunks) for doc in todo))


async def _write_document(
    conn: Connection,
    generation: int,
    doc: ingest.PreparedDocument,
    chunks: tuple[list[str], models.Vector],
    report: SourceReport,
) -> None:
    upserted = await doc_sql.upsert_document(conn, doc.values)
    if upserted is None:  # a concurrent ingest stored this very content meanwhile
        report.unchanged += 1
        return
    document_id, created = upserted
    await generations.write_document(conn, generation, document_id, doc.values.content_hash, chunks)
    if created:
        report.added += 1
    else:
        report.replaced += 1


def _count_metrics(report: SourceReport, chunks: int) -> None:
    metrics.DOCUMENTS_INGESTED.labels("created").inc(report.added)
    metrics.DOCUMENTS_INGESTED.labels("updated").inc(report.replaced)
    metrics.DOCUMENTS_INGESTED.labels("unchanged").inc(report.unchanged)
    metrics.CHUNKS_INGESTED.inc(chunks)


@asynccontextmanager
async def _phase(reason: str) -> AsyncIterator[None]:
    """Turns any failure inside into ``_Failed(reason)``: one source's failure of any kind
    must be reported with its reason, not stop the sources after it."""
    try:
        yield
    except _Failed:
        raise
    except Exception as exc:
        message = exc.detail if isinstance(exc, errors.AgentError) else str(exc)
        raise _Failed(reason, message or type(exc).__name__) from exc
