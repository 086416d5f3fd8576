"""Source sync against the real embedded PostgreSQL and the real local embedder: a source
is synced as a set (added, replaced, pruned), atomically, and items it cannot read are
reported by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from ragagent.core import models
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.rag import retrieval, sync
from ragagent.rag.sync_items import SyncSource
from ragagent.rag.types import Embedder, RetrievedChunk
from tests.agent import documents

pytestmark = pytest.mark.db

KEYS = {
    "lamp.md": "# Lamp\n\nThe lighthouse lamp is wound at dusk by the keeper.",
    "tide.txt": "High tide at the harbour comes twice a day.",
    "secret.md": "# Leak\n\nThe vault code is purple-otter-42.",
}


class FailingEmbedder:
    """The real embedder, failing from its ``fail_at``-th call on (a crash midway)."""

    def __init__(self, real: Embedder, fail_at: int) -> None:
        self.real, self.fail_at, self.calls = real, fail_at, 0
        # The real one's, which the index records and checks.
        self.model_name, self.dimension = real.model_name, real.dimension

    def embed(self, texts: Sequence[str]) -> models.Vector:
        self.calls += 1
        if self.calls >= self.fail_at:
            raise RuntimeError("embedding backend went away")
        return self.real.embed(texts)


def write_keys(directory: Path, keys: Mapping[str, str | bytes]) -> Path:
    """A ConfigMap volume holding exactly ``keys`` (plain files, as the sync reads them)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    for key, value in keys.items():
        path = directory / key
        path.write_bytes(value) if isinstance(value, bytes) else path.write_text(value)
    return directory


async def run(
    db: Database, embedder: Embedder, settings: Settings, *sources: SyncSource
) -> list[sync.SourceReport]:
    return await sync.sync_sources(
        db=db, embedder=embedder, settings=settings, sources=sources, prune_unlisted=True
    )


async def search(db: Database, embedder: Embedder, query: str) -> list[RetrievedChunk]:
    """Both legs (vector and BM25) over every chunk: a pruned text must be in neither."""
    return await retrieval.retrieve(
        db=db, embedder=embedder, query=query, top_k=5, candidates=50, rrf_k=60
    )


async def stored(db: Database) -> dict[str, str | None]:
    """external_id -> the source that owns it."""
    async with db.connection() as conn:
        cursor = await conn.execute("SELECT external_id, sync_source FROM documents")
        return {row["external_id"]: row["sync_source"] for row in await cursor.fetchall()}


async def all_chunk_text(db: Database) -> str:
    async with db.connection() as conn:
        cursor = await conn.execute("SELECT string_agg(text, ' ') AS t FROM chunks")
        return str((await cursor.fetchone() or {}).get("t") or "")


async def test_a_source_is_synced_as_a_set_under_stable_ids(
    db: Database, embedder: Embedder, pg_settings: Settings, tmp_path: Path
) -> None:
    source = SyncSource("configmap/kb", write_keys(tmp_path / "kb", dict(KEYS)))
    [first] = await run(db, embedder, pg_settings, source)
    assert (first.added, first.documents, first.error) == (3, 3, None)
    assert set(await stored(db)) == {f"configmap/kb/{key}" for key in KEYS}

    changed = {
        "lamp.md": KEYS["lamp.md"] + " Twice on stormy nights.",
        "tide.txt": KEYS["tide.txt"],
    }
    write_keys(tmp_path / "kb", changed)
    [second] = await run(db, embedder, pg_settings, source)
    counts = (second.added, second.replaced, second.deleted, second.unchanged, second.documents)
    assert counts == (0, 1, 1, 1, 2)
    assert second.chunks == 2
    assert second.synced_at is not None


async def test_a_removed_key_is_pruned_and_its_text_is_no_longer_retrievable(
    db: Database, embedder: Embedder, pg_settings: Settings, tmp_path: Path
) -> None:
    source = SyncSource("configmap/kb", write_keys(tmp_path / "kb", dict(KEYS)))
    await run(db, embedder, pg_settings, source)
    query = "What is the vault code?"
    found = await search(db, embedder, query)
    assert "purple-otter-42" in found[0].text

    write_keys(tmp_path / "kb", {k: v for k, v in KEYS.items() if k != "secret.md"})
    [report] = await run(db, embedder, pg_settings, source)

    assert report.deleted == 1
    found = await search(db, embedder, query)
    assert found
    assert not any("purple-otter" in chunk.text for chunk in found)
    assert "purple-otter" not in await all_chunk_text(db)


async def test_a_sync_that_fails_midway_keeps_the_previous_set_whole(
    db: Database, embedder: Embedder, pg_settings: Settings, tmp_path: Path
) -> None:
    source = SyncSource("configmap/kb", write_keys(tmp_path / "kb", dict(KEYS)))
    await run(db, embedder, pg_settings, source)
    before, text_before = await stored(db), await all_chunk_text(db)
    many = {f"new-{n}.md": f"# New {n}\n\n" + f"Fresh text number {n}. " * 80 for n in range(12)}
    write_keys(tmp_path / "kb", {"lamp.md": "The lamp is now electric.", **many})
    settings = pg_settings.model_copy(update={"embedding_batch_size": 2})  # several calls

    [report] = await run(db, FailingEmbedder(embedder, fail_at=2), settings, source)

    assert report.error is not None
    assert report.error.reason == "EmbeddingFailed"
    assert "embedding backend went away" in report.error.message
    assert (await stored(db), await all_chunk_text(db)) == (before, text_before)


async def test_unsupported_and_unreadable_keys_are_reported_and_the_rest_synced(
    db: Database, embedder: Embedder, pg_settings: Settings, tmp_path: Path
) -> None:
    volume = write_keys(tmp_path / "kb", {**KEYS, "logo.png": b"\x89PNG", "empty.md": "  "})
    [report] = await run(db, embedder, pg_settings, SyncSource("configmap/kb", volume))
    assert report.error is None
    assert report.unsupported == ["logo.png"]
    assert [(f.name, f.reason) for f in report.failed] == [("empty.md", "ValidationFailed")]
    assert report.documents == 3


async def test_a_key_that_breaks_keeps_its_previous_copy(
    db: Database, embedder: Embedder, pg_settings: Settings, tmp_path: Path
) -> None:
    source = SyncSource("configmap/kb", write_keys(tmp_path / "kb", dict(KEYS)))
    await run(db, embedder, pg_settings, source)
    write_keys(tmp_path / "kb", {**KEYS, "tide.txt": ""})
    [report] = await run(db, embedder, pg_settings, source)
    assert [f.name for f in report.failed] == ["tide.txt"]
    assert "configmap/kb/tide.txt" in await stored(db)
    assert "twice a day" in await all_chunk_text(db)


async def test_jsonl_lines_are_named_under_their_key_and_pruned_with_it(
    db: Database, embedder: Embedder, pg_settings: Settings, tmp_path: Path
) -> None:
    lines = '{"external_id": "a", "text": "Alpha line."}\n{"text": "Second line."}\n'
    source = SyncSource("configmap/kb", write_keys(tmp_path / "kb", {"bulk.jsonl": lines}))
    await run(db, embedder, pg_settings, source)
    assert set(await stored(db)) == {"configmap/kb/bulk.jsonl#a", "configmap/kb/bulk.jsonl#2"}
    write_keys(tmp_path / "kb", {"lamp.md": KEYS["lamp.md"]})
    [report] = await run(db, embedder, pg_settings, source)
    assert (report.deleted, set(await stored(db))) == (2, {"configmap/kb/lamp.md"})


async def test_an_unlisted_source_is_pruned_but_api_documents_stay(
    db: Database, embedder: Embedder, pg_settings: Settings, tmp_path: Path
) -> None:
    await documents.ingest(db, embedder, pg_settings, documents.markdown("Kept.", "api-doc"))
    one = SyncSource("configmap/one", write_keys(tmp_path / "one", {"a.md": "One."}))
    two = SyncSource("configmap/two", write_keys(tmp_path / "two", {"b.md": "Two."}))
    await run(db, embedder, pg_settings, one, two)
    reports = await run(db, embedder, pg_settings, one)
    assert [(r.source, r.deleted) for r in reports] == [("configmap/one", 0), ("configmap/two", 1)]
    assert await stored(db) == {"api-doc": None, "configmap/one/a.md": "configmap/one"}


async def test_a_missing_volume_fails_only_its_own_source(
    db: Database, embedder: Embedder, pg_settings: Settings, tmp_path: Path
) -> None:
    good = SyncSource("configmap/good", write_keys(tmp_path / "good", {"a.md": "Good."}))
    gone = SyncSource("configmap/gone", tmp_path / "nowhere")
    reports = await run(db, embedder, pg_settings, gone, good)
    assert reports[0].error is not None
    assert reports[0].error.reason == "SourceUnreadable"
    assert (reports[1].error, reports[1].documents) == (None, 1)
