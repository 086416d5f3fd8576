"""Hybrid retrieval against the real embedded PostgreSQL and the real local embedder."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ragagent.core import errors, metrics
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.models import DocumentInput, Vector
from ragagent.db import embedding_index
from ragagent.rag import ingest, reindex, retrieval
from ragagent.rag.ingest import ingest_documents
from ragagent.rag.types import Embedder, RetrievedChunk

pytestmark = pytest.mark.db

CORPUS = [
    DocumentInput(
        text="Zebras are African equines with distinctive black-and-white striped coats.",
        external_id="zebra",
        source="animals",
        metadata={"lang": "en", "kind": "mammal"},
    ),
    DocumentInput(
        text="The Rust compiler enforces memory safety through ownership and borrowing.",
        external_id="rust",
        source="programming",
        metadata={"lang": "en"},
    ),
    DocumentInput(
        text="Sourdough bread rises thanks to wild yeast and lactic acid bacteria.",
        external_id="bread",
        source="cooking",
        metadata={"lang": "en"},
    ),
    DocumentInput(
        text="Penguins are flightless seabirds that live almost exclusively in the Southern "
        "Hemisphere.",
        external_id="penguin",
        source="animals",
        metadata={"lang": "en", "kind": "bird"},
    ),
]


async def _search(
    db: Database, embedder: Embedder, query: str, flt: retrieval.RetrievalFilter | None = None
) -> list[RetrievedChunk]:
    return await retrieval.retrieve(
        db=db, embedder=embedder, query=query, top_k=3, candidates=10, rrf_k=60, filter=flt
    )


@pytest.fixture
async def corpus(db: Database, embedder: Embedder, pg_settings: Settings) -> Database:
    await ingest_documents(db=db, embedder=embedder, settings=pg_settings, docs=CORPUS)
    return db


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("animal with stripes", "zebra"),
        ("how does the borrow checker keep memory safe", "rust"),
        ("yeast", "bread"),
        ("birds that cannot fly", "penguin"),
    ],
)
async def test_the_right_document_ranks_first(
    corpus: Database, embedder: Embedder, query: str, expected: str
) -> None:
    results = await _search(corpus, embedder, query)
    assert results[0].external_id == expected
    assert results[0].score >= results[-1].score
    assert results[0].metadata["lang"] == "en"


async def test_filter_by_source_only_returns_that_source(
    corpus: Database, embedder: Embedder
) -> None:
    results = await _search(corpus, embedder, "yeast", retrieval.RetrievalFilter(source="animals"))
    assert {r.external_id for r in results} == {"zebra", "penguin"}


async def test_filter_by_metadata_containment(corpus: Database, embedder: Embedder) -> None:
    flt = retrieval.RetrievalFilter(metadata={"kind": "bird"})
    results = await _search(corpus, embedder, "striped animal", flt)
    assert [r.external_id for r in results] == ["penguin"]


async def test_empty_database_returns_no_chunks(db: Database, embedder: Embedder) -> None:
    assert await _search(db, embedder, "anything") == []


async def test_switching_the_embedding_model_is_refused_until_reindexed(
    corpus: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    other = _RenamedEmbedder(embedder, "all-MiniLM-L6-v2-renamed")
    with pytest.raises(errors.EmbeddingModelMismatch, match="reindex"):
        await _search(corpus, other, "zebra")
    chunking = ingest.build_chunking(pg_settings)
    done = await reindex.reindex(db=corpus, embedder=other, chunking=chunking, batch_size=2)
    assert done == reindex.ReindexResult(chunks=len(CORPUS), generation=2)
    assert (await _search(corpus, other, "animal with stripes"))[0].external_id == "zebra"
    async with corpus.connection() as conn:
        recorded = await embedding_index.read_index_model(conn)
    assert recorded == embedding_index.IndexModel("all-MiniLM-L6-v2-renamed", 384)


async def test_the_previous_model_searches_its_retained_generation_until_it_is_pruned(
    corpus: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    """A pod not yet rolled after a model switch keeps answering; it never writes."""
    other = _RenamedEmbedder(embedder, "all-MiniLM-L6-v2-renamed")
    chunking = ingest.build_chunking(pg_settings)
    await reindex.reindex(db=corpus, embedder=other, chunking=chunking, batch_size=2)
    retained_before = _retained_count()

    found = await _search(corpus, embedder, "animal with stripes")

    assert found[0].external_id == "zebra"
    assert _retained_count() == retained_before + 1
    async with corpus.connection() as conn:
        cursor = await conn.execute(
            "SELECT generation FROM chunks WHERE id = %s", (found[0].chunk_id,)
        )
        row = await cursor.fetchone()
    assert row == {"generation": 1}
    extra = DocumentInput(text="Llamas hum to each other.", external_id="llama")
    with pytest.raises(errors.EmbeddingModelMismatch):
        await ingest_documents(db=corpus, embedder=embedder, settings=pg_settings, docs=[extra])

    assert await reindex.prune(corpus, keep=0) == [1]

    with pytest.raises(errors.EmbeddingModelMismatch):
        await _search(corpus, embedder, "zebra")


def _retained_count() -> float:
    return metrics.REGISTRY.get_sample_value("ragagent_retrieval_retained_total") or 0.0


class _RenamedEmbedder:
    """The same real model under another name: what a model switch looks like to the guard."""

    def __init__(self, inner: Embedder, name: str) -> None:
        self._inner = inner
        self._name = name

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed(self, texts: Sequence[str]) -> Vector:
        return self._inner.embed(texts)


async def test_hnsw_index_exists_after_the_first_ingest(corpus: Database) -> None:
    async with corpus.connection() as conn:
        cursor = await conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (embedding_index.HNSW_INDEX,)
        )
        row = await cursor.fetchone()
    assert row is not None
    assert "hnsw" in row["indexdef"]
