"""Shared pieces of the re-index and index-generation tests: a small corpus of distinct
topics, each with a question only its document answers, the evaluation set made of those
questions, an embedder that pauses mid-build (and a candidate build started with it), the
generations' states, and an older agent's migrations and rows."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragagent.core.config import Settings
from ragagent.core.db import Connection, Database
from ragagent.core.models import DocumentInput, Vector
from ragagent.db import embedding_index, generations, migrate
from ragagent.rag import reindex
from ragagent.rag.types import Embedder
from tests.agent import documents

# Cuts every document into several chunks (each paragraph is about 60 to 90 characters).
SMALL = embedding_index.Chunking(size=100, overlap=20)

_TOPICS = {
    "tea": [
        "Green tea is steeped at 80 degrees for two minutes.",
        "Boiling water makes green tea bitter and dull.",
        "Black tea takes boiling water and four minutes.",
    ],
    "zebra": [
        "The zebra is an African horse with black and white stripes.",
        "Zebras live in herds on the open grassland.",
        "Each zebra has its own pattern of stripes.",
    ],
    "bread": [
        "Bread rises because yeast makes carbon dioxide in the dough.",
        "A long, cool rise gives bread more flavour.",
        "Bake the loaf until it sounds hollow when tapped.",
    ],
    "rust": [
        "The Rust borrow checker keeps memory safe without a garbage collector.",
        "Ownership moves a value; borrowing lends it for a while.",
        "Lifetimes tell the compiler how long a reference lives.",
    ],
    "moon": [
        "The Moon orbits the Earth once every twenty-seven days.",
        "Its phases come from the sunlit half we can see.",
        "Tides follow the pull of the Moon on the oceans.",
    ],
    "bees": [
        "Honey bees dance to tell the hive where flowers are.",
        "A colony has one queen, many workers and a few drones.",
        "Bees turn nectar into honey and store it in wax cells.",
    ],
    "chess": [
        "In chess the knight moves in an L shape and can jump over pieces.",
        "Castling moves the king two squares towards a rook.",
        "A pawn that reaches the last rank is promoted.",
    ],
    "volcano": [
        "A volcano erupts when molten rock, called magma, reaches the surface.",
        "Lava cools into basalt and other volcanic rock.",
        "Ash clouds from eruptions can ground aeroplanes.",
    ],
}
CORPUS = [
    DocumentInput(
        text="\n\n".join(paragraphs),
        content_type="text/markdown",
        external_id=topic,
        title=topic.title(),
    )
    for topic, paragraphs in _TOPICS.items()
]
QUERIES = [
    ("how hot should the water be for green tea", "tea"),
    ("animal with stripes", "zebra"),
    ("why does dough rise with yeast", "bread"),
    ("memory safety without garbage collection", "rust"),
    ("how does a knight move", "chess"),
    ("what comes out when magma reaches the surface", "volcano"),
]


def write_eval_set(path: Path) -> Path:
    """The queries as the evaluation-set file `ragagent index eval` reads (JSON Lines)."""
    lines = [json.dumps({"query": query, "relevant": [doc]}) for query, doc in QUERIES]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class PausingEmbedder:
    """The real embedder, whose first call waits until the test lets it go on."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.model_name = inner.model_name
        self.dimension = inner.dimension
        self.started = threading.Event()
        self.go_on = threading.Event()

    def embed(self, texts: Sequence[str]) -> Vector:
        self.started.set()
        self.go_on.wait(timeout=120)
        return self._inner.embed(texts)


async def start_paused_build(
    db: Database, embedder: Embedder, settings: Settings
) -> tuple[PausingEmbedder, asyncio.Task[reindex.ReindexResult]]:
    """The corpus ingested, then a candidate build (``SMALL`` chunks) begun and held at its
    first embedding until the test sets ``go_on`` on the returned embedder."""
    await documents.ingest(db, embedder, settings, *CORPUS)
    paused = PausingEmbedder(embedder)
    build = asyncio.create_task(
        reindex.create_candidate(db=db, embedder=paused, chunking=SMALL, batch_size=8)
    )
    assert await asyncio.to_thread(paused.started.wait, 60), "the build never began"
    return paused, build


async def generation_states(db: Database) -> dict[int, str]:
    """Each generation's state, by its id."""
    async with db.connection() as conn:
        return {g.id: g.state for g in await generations.list_all(conn)}


def migrations_before(tmp_path: Path, version: str) -> Path:
    """A directory with the migrations older than ``version``: the schema of an older agent."""
    older = tmp_path / "migrations"
    older.mkdir()
    for found in migrate.load_migrations():
        if found.version < version:
            shutil.copy(found.path, older / found.path.name)
    return older


async def open_database(settings: Settings) -> Database:
    """The test database, opened without migrating it (its schema is the test's to set)."""
    assert settings.database_url is not None
    return await Database.open(settings.database_url.get_secret_value(), settings)


async def store_the_old_way(
    conn: Connection, embedder: Embedder, external_id: str, text: str, *, body: bool
) -> None:
    """One document of one chunk, as an agent before index generations wrote it: no
    generation anywhere. ``body`` keeps the text as agents from migration 0004 on did; an
    older one kept none, so a re-index cannot cut that document again."""
    vector = embedder.embed([text])[0].astype(np.float32)
    cursor = await conn.execute(
        "INSERT INTO documents (external_id, title, content_type, content_hash, char_count, "
        "chunk_count) VALUES (%s, %s, 'text/markdown', 'h', %s, 1) RETURNING id",
        (external_id, external_id.title(), len(text)),
    )
    row = await cursor.fetchone()
    assert row is not None
    await conn.execute(
        "INSERT INTO chunks (document_id, ordinal, text, embedding) VALUES (%s, 0, %s, %s)",
        (row["id"], text, vector),
    )
    if body:
        await conn.execute("UPDATE documents SET body = %s WHERE id = %s", (text, row["id"]))
