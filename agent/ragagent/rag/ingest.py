"""Ingestion: parse, chunk, hash, embed in batches, and store each document atomically.

A document whose content hash is unchanged is skipped before any embedding
and nothing is written. A changed document's row, parsed body and chunks are
replaced in one transaction, so readers see either the old version or the new
one, and a failure part-way leaves the old version intact. Embedding runs in a
worker thread, batched across documents, while finished documents are written.

The chunking is not part of "unchanged": a document stored under other chunk
settings is left alone here, and ``ragagent reindex`` (which the operator runs
on every chunking change) re-chunks all stored documents in one switch and
records the new settings. Checking it here too would re-chunk the same
documents twice on a chunking change, once outside that switch. One document
is written although its hash is unchanged: one stored before bodies were kept,
so that it gets a body (and the configured chunking) and can be re-chunked later.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import posixpath
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from ragagent.core import errors, metrics, models
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import documents as doc_sql
from ragagent.db import embedding_index, generations
from ragagent.rag import chunking, parsing
from ragagent.rag.types import Embedder

log = logging.getLogger(__name__)

EMBED_CALL_BATCHES = 4
Outcome = Literal["created", "updated", "unchanged"]
Progress = Callable[[int], None]


class IngestResult(BaseModel):
    """What ingesting one document did; ``document_id`` is None when a concurrent ingest
    of the same content won."""

    model_config = ConfigDict(frozen=True)

    external_id: str
    outcome: Outcome
    chunks: int
    document_id: int | None = None


@dataclass(frozen=True)
class PreparedDocument:
    values: models.DocumentValues
    chunks: list[str]


def build_prepared(doc: models.DocumentInput, settings: Settings) -> PreparedDocument:
    """Parse, validate, hash and chunk one document; raises 413/415/422 errors."""
    content_type, parsed = _parse(doc, settings)
    text = chunking.normalise(parsed.text)
    if not text:
        raise errors.ValidationFailed("document text is empty")
    chunks = chunking.build_chunks(text, size=settings.chunk_size, overlap=settings.chunk_overlap)
    if not chunks:
        raise errors.ValidationFailed("document has no text to index")
    title = _title(doc, parsed, text)
    digest = build_content_hash(text=text, title=title, source=doc.source, metadata=doc.metadata)
    values = models.DocumentValues(
        external_id=doc.external_id or f"sha256-{_sha256(text)[:32]}",
        title=title,
        source=doc.source,
        content_type=content_type,
        content_hash=digest,
        metadata=doc.metadata,
        char_count=len(text),
        chunk_count=len(chunks),
        body=text,
    )
    return PreparedDocument(values=values, chunks=chunks)


def _parse(doc: models.DocumentInput, settings: Settings) -> tuple[str, parsing.ParsedDocument]:
    """The normalised content type and the parsed text of ``doc``, within the limits."""
    size = len(doc.data) if isinstance(doc, models.FileInput) else len(doc.text.encode())
    if size > settings.max_document_bytes:
        raise errors.PayloadTooLarge(
            f"document larger than {settings.max_document_bytes} bytes "
            "(RAGAGENT_MAX_DOCUMENT_BYTES)"
        )
    content_type = parsing.normalise_content_type(doc.content_type)
    deadline = time.monotonic() + settings.parse_timeout_seconds
    if content_type not in parsing.FILE_TYPES:
        parsed = parsing.build_parsed(
            doc.text, content_type, max_html_elements=settings.max_html_elements, deadline=deadline
        )
        return content_type, parsed
    if not isinstance(doc, models.FileInput):
        raise errors.UnsupportedMediaType(
            f"{content_type} documents are sent as the raw request body with that "
            "Content-Type, not as JSON text"
        )
    return content_type, _parse_file(doc, content_type, settings, deadline)


def _parse_file(
    doc: models.FileInput, content_type: str, settings: Settings, deadline: float
) -> parsing.ParsedDocument:
    try:
        return parsing.build_file_parsed(
            doc.data,
            content_type,
            max_pages=settings.max_document_pages,
            max_unpacked_bytes=settings.max_unpacked_bytes,
            deadline=deadline,
        )
    except errors.AgentError as exc:
        # A CLI or source run ingests many files at once: say which one is at fault.
        name = doc.external_id or doc.title
        raise type(exc)(f"{name}: {exc.detail}" if name else exc.detail) from None


def _title(doc: models.DocumentInput, parsed: parsing.ParsedDocument, text: str) -> str:
    """The client's title, else the document's own, else (for a file, whose text starts
    with a page or heading line) its file name, else its first line of text."""
    first_line = text.split("\n", 1)[0]
    if isinstance(doc, models.FileInput):
        first_line = posixpath.basename((doc.external_id or "").rstrip("/")) or first_line
    return (doc.title or parsed.title or first_line)[:300]


def build_all_prepared(
    docs: Sequence[models.DocumentInput], settings: Settings
) -> list[PreparedDocument]:
    return [build_prepared(doc, settings) for doc in docs]


def build_chunking(settings: Settings) -> embedding_index.Chunking:
    """The configured chunking, as the index records it."""
    return embedding_index.Chunking(settings.chunk_size, settings.chunk_overlap)


def build_content_hash(
    *, text: str, title: str, source: str | None, metadata: dict[str, Any]
) -> str:
    """Everything that, if changed, must replace the stored document."""
    canonical = json.dumps(
        {"text": text, "title": title, "source": source, "metadata": metadata},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return _sha256(canonical)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def ingest_documents(
    *,
    db: Database,
    embedder: Embedder,
    settings: Settings,
    docs: Sequence[models.DocumentInput],
    on_progress: Progress | None = None,
) -> list[IngestResult]:
    """Ingest ``docs`` in order; results line up with ``docs``.

    Validation errors for any document are raised before anything is written.
    Duplicated external_ids in one call: the last one wins.
    """
    # Parsing and chunking are CPU-bound: in a worker thread, the event loop keeps serving.
    prepared = await asyncio.to_thread(build_all_prepared, docs, settings)
    wanted = embedding_index.IndexModel(embedder.model_name, embedder.dimension)
    async with db.connection() as conn:
        record = await embedding_index.read_index_record(conn)
        embedding_index.check_model(record.model if record else None, wanted)
        stored = await doc_sql.find_hashes(conn, [p.values.external_id for p in prepared])
    _note_other_chunking(record, build_chunking(settings))
    todo = [p for p in prepared if is_changed(p, stored.get(p.values.external_id))]
    written = await _embed_and_write(db, embedder, settings, todo, wanted, on_progress)
    results = [
        written.get(p.values.external_id) or _unchanged(p, stored.get(p.values.external_id))
        for p in prepared
    ]
    for result in results:
        metrics.DOCUMENTS_INGESTED.labels(result.outcome).inc()
    return results


def is_changed(prepared: PreparedDocument, stored: doc_sql.StoredHash | None) -> bool:
    """New, changed, or stored without a body (before bodies were kept): to be written."""
    if stored is None or not stored.has_body:
        return True
    return stored.content_hash != prepared.values.content_hash


def _note_other_chunking(
    record: embedding_index.IndexRecord | None, configured: embedding_index.Chunking
) -> None:
    if record is not None and record.chunking != configured:
        log.info(
            "the index was chunked with %s; documents written now are chunked with %s "
            "until `ragagent reindex` re-chunks the stored ones",
            record.chunking or "unrecorded settings",
            configured,
        )


def _unchanged(prepared: PreparedDocument, stored: doc_sql.StoredHash | None) -> IngestResult:
    values = prepared.values
    document_id = stored.id if stored else None
    return IngestResult(
        external_id=values.external_id,
        outcome="unchanged",
        chunks=values.chunk_count,
        document_id=document_id,
    )


async def _embed_and_write(
    db: Database,
    embedder: Embedder,
    settings: Settings,
    todo: list[PreparedDocument],
    wanted: embedding_index.IndexModel,
    on_progress: Progress | None,
) -> dict[str, IngestResult]:
    """Embed all chunks batch by batch, writing each document once its vectors exist.

    The next batch is embedded in a worker thread while finished documents are
    written, so the database and the model work at the same time.
    """
    # Several embedder batches per call let the model sort texts by length across
    # more of them (less padding) while the previous call's documents are written.
    step = settings.embedding_batch_size * EMBED_CALL_BATCHES
    texts = [chunk for p in todo for chunk in p.chunks]
    batches = [texts[i : i + step] for i in range(0, len(texts), step)]
    queue = deque(todo)
    buffer = np.empty((0, embedder.dimension), dtype=np.float32)
    results: dict[str, IngestResult] = {}
    pending = _start_embedding(embedder, batches[0]) if batches else None
    try:
        for index in range(len(batches)):
            assert pending is not None
            batch = await pending
            upcoming = batches[index + 1] if index + 1 < len(batches) else None
            pending = _start_embedding(embedder, upcoming) if upcoming else None
            buffer = np.concatenate([buffer, batch])
            if on_progress is not None:
                on_progress(len(batch))
            while queue and len(queue[0].chunks) <= len(buffer):
                doc = queue.popleft()
                size = len(doc.chunks)
                results[doc.values.external_id] = await write_document(
                    db, doc, buffer[:size], wanted, chunking=build_chunking(settings)
                )
                buffer = buffer[size:]
    finally:
        if pending is not None:
            pending.cancel()
    return results


def _start_embedding(embedder: Embedder, texts: list[str]) -> asyncio.Task[models.Vector]:
    return asyncio.create_task(asyncio.to_thread(_embed, embedder, texts))


def _embed(embedder: Embedder, texts: list[str]) -> models.Vector:
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    metrics.EMBEDDING_LATENCY.labels("ingest").observe(time.perf_counter() - started)
    if vectors.shape != (len(texts), embedder.dimension):
        raise errors.AgentError(f"embedder returned shape {vectors.shape} for {len(texts)} texts")
    return vectors


async def write_document(
    db: Database,
    prepared: PreparedDocument,
    vectors: models.Vector,
    wanted: embedding_index.IndexModel,
    *,
    chunking: embedding_index.Chunking,
) -> IngestResult:
    """Replace one document and its chunks in a single transaction.

    ``chunking`` is recorded only when this write claims an empty database.
    """
    values = prepared.values
    async with db.connection() as conn, conn.transaction():
        generation = await embedding_index.ensure_index_model(conn, wanted, chunking=chunking)
        upserted = await doc_sql.upsert_document(conn, values)
        if upserted is None:
            return IngestResult(
                external_id=values.external_id, outcome="unchanged", chunks=values.chunk_count
            )
        document_id, created = upserted
        await generations.write_document(
            conn, generation, document_id, values.content_hash, (prepared.chunks, vectors)
        )
    metrics.CHUNKS_INGESTED.inc(len(prepared.chunks))
    outcome: Outcome = "created" if created else "updated"
    return IngestResult(
        external_id=values.external_id,
        outcome=outcome,
        chunks=len(prepared.chunks),
        document_id=document_id,
    )
