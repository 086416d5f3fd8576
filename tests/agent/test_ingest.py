"""Ingestion against the real embedded PostgreSQL and the real local embedder."""

from __future__ import annotations

from typing import Any

import pytest

from ragagent.core import errors
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.models import DocumentInput
from ragagent.db import embedding_index
from ragagent.rag import ingest
from ragagent.rag.ingest import EMBED_CALL_BATCHES, ingest_documents
from ragagent.rag.types import Embedder
from tests.agent import documents

pytestmark = pytest.mark.db

HANDBOOK = "# Handbook\n\nThe office opens at nine.\n\n## Holidays\n\nStaff get 30 days of leave."


async def _snapshot(db: Database) -> list[tuple[Any, ...]]:
    """Every chunk row with its physical location: any rewrite changes ctid or xmin."""
    async with db.connection() as conn:
        cursor = await conn.execute(
            "SELECT c.ctid::text AS ctid, c.xmin::text AS cx, d.xmin::text AS dx, c.text "
            "FROM chunks c JOIN documents d ON d.id = c.document_id ORDER BY c.id"
        )
        return [tuple(row.values()) for row in await cursor.fetchall()]


async def test_new_document_is_created_with_its_chunks(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    [result] = await documents.ingest(db, embedder, pg_settings, documents.markdown(HANDBOOK, "hb"))
    assert result.outcome == "created"
    assert result.chunks >= 1
    rows = await _snapshot(db)
    assert len(rows) == result.chunks
    assert any("30 days of leave" in row[3] for row in rows)


async def test_reingesting_an_unchanged_document_writes_nothing(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    doc = documents.markdown(HANDBOOK, "hb", metadata={"team": "hr"})
    [first] = await documents.ingest(db, embedder, pg_settings, doc)
    before = await _snapshot(db)
    async with db.connection() as conn:
        cursor = await conn.execute("SELECT pg_current_wal_insert_lsn()::text AS lsn")
        lsn_before = (await cursor.fetchone() or {})["lsn"]
    [second] = await documents.ingest(db, embedder, pg_settings, doc)
    assert second.outcome == "unchanged"
    assert second.document_id == first.document_id
    assert await _snapshot(db) == before
    async with db.connection() as conn:
        cursor = await conn.execute("SELECT pg_current_wal_insert_lsn()::text AS lsn")
        assert (await cursor.fetchone() or {})["lsn"] == lsn_before


async def test_changed_document_replaces_all_its_chunks(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, documents.markdown(HANDBOOK, "hb"))
    changed = HANDBOOK.replace("30 days", "35 days")
    [result] = await documents.ingest(db, embedder, pg_settings, documents.markdown(changed, "hb"))
    assert result.outcome == "updated"
    texts = [row[3] for row in await _snapshot(db)]
    assert len(texts) == result.chunks
    assert any("35 days" in t for t in texts)
    assert not any("30 days" in t for t in texts)


async def test_changed_metadata_alone_counts_as_a_change(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(
        db, embedder, pg_settings, DocumentInput(text="Some text.", external_id="m")
    )
    doc = DocumentInput(text="Some text.", external_id="m", metadata={"v": 2})
    [result] = await documents.ingest(db, embedder, pg_settings, doc)
    assert result.outcome == "updated"


async def test_a_failure_mid_ingest_leaves_the_old_version_intact(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, documents.markdown(HANDBOOK, "hb"))
    before = await _snapshot(db)
    async with db.connection() as conn:
        # A real database failure after the old chunks were deleted, during the COPY.
        await conn.execute(
            """CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                 IF NEW.text LIKE '%%POISON%%' THEN RAISE EXCEPTION 'poisoned chunk'; END IF;
                 RETURN NEW;
               END $$;
               CREATE TRIGGER refuse_poison BEFORE INSERT ON chunks
               FOR EACH ROW EXECUTE FUNCTION refuse_poison();"""
        )
    poisoned = HANDBOOK + "\n\n## Appendix\n\nPOISON here."
    with pytest.raises(Exception, match="poisoned chunk"):
        await documents.ingest(db, embedder, pg_settings, documents.markdown(poisoned, "hb"))
    assert await _snapshot(db) == before


async def test_documents_without_external_id_are_identified_by_their_text(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    [a] = await documents.ingest(db, embedder, pg_settings, DocumentInput(text="Same words."))
    [b] = await documents.ingest(db, embedder, pg_settings, DocumentInput(text="Same words."))
    assert a.external_id == b.external_id
    assert (a.outcome, b.outcome) == ("created", "unchanged")


async def test_many_documents_in_one_call_are_batched_across_documents(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    docs = [
        DocumentInput(text=f"Document {i} is about topic {i}.", external_id=f"d{i}")
        for i in range(300)
    ]
    progress: list[int] = []
    results = await ingest_documents(
        db=db, embedder=embedder, settings=pg_settings, docs=docs, on_progress=progress.append
    )
    assert [r.outcome for r in results] == ["created"] * 300
    assert sum(progress) == 300
    assert len(progress) == 300 // (pg_settings.embedding_batch_size * EMBED_CALL_BATCHES) + 1


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        (DocumentInput(text="   \n\n  "), errors.ValidationFailed),
        (DocumentInput(text="<p> </p>", content_type="text/html"), errors.ValidationFailed),
        (DocumentInput(text="x", content_type="application/pdf"), errors.UnsupportedMediaType),
    ],
)
async def test_bad_documents_are_refused_before_anything_is_written(
    db: Database,
    embedder: Embedder,
    pg_settings: Settings,
    doc: DocumentInput,
    error: type[errors.AgentError],
) -> None:
    with pytest.raises(error):
        await documents.ingest(
            db, embedder, pg_settings, DocumentInput(text="fine", external_id="ok"), doc
        )
    assert await _snapshot(db) == []


async def test_oversized_document_is_413(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    small = pg_settings.model_copy(update={"max_document_bytes": 100})
    with pytest.raises(errors.PayloadTooLarge):
        await documents.ingest(db, embedder, small, DocumentInput(text="x" * 101))


async def test_under_a_new_chunking_only_new_documents_are_cut_with_it(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    """Before the re-index, stored documents keep their chunks and the index its record."""
    stored = documents.markdown(HANDBOOK, "hb")
    await documents.ingest(db, embedder, pg_settings, stored)
    before = await _snapshot(db)
    small = pg_settings.model_copy(update={"chunk_size": 100, "chunk_overlap": 20})
    new = documents.markdown(HANDBOOK.replace("Handbook", "Guide"), "guide")

    results = await documents.ingest(db, embedder, small, stored, new)

    assert [r.outcome for r in results] == ["unchanged", "created"]
    assert (await _snapshot(db))[: len(before)] == before
    async with db.connection() as conn:
        cursor = await conn.execute(
            "SELECT max(length(c.text)) AS longest FROM chunks c "
            "JOIN documents d ON d.id = c.document_id WHERE d.external_id = 'guide'"
        )
        assert (await cursor.fetchone() or {})["longest"] <= 100
        record = await embedding_index.read_index_record(conn)
    assert record is not None
    assert record.chunking == ingest.build_chunking(pg_settings)


async def test_a_document_stored_without_a_body_gets_one_when_ingested_again(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    """Documents from before bodies were kept become re-chunkable by ingesting them again."""
    doc = documents.markdown(HANDBOOK, "hb")
    await documents.ingest(db, embedder, pg_settings, doc)
    async with db.connection() as conn:
        await conn.execute("UPDATE documents SET body = NULL")

    [again] = await documents.ingest(db, embedder, pg_settings, doc)

    assert again.outcome == "updated"
    async with db.connection() as conn:
        cursor = await conn.execute("SELECT body FROM documents WHERE external_id = 'hb'")
        body = (await cursor.fetchone() or {})["body"]
    assert body is not None
    assert "30 days of leave" in body
