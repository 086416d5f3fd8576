"""SQL for index generations: each (model, dimension, chunking) the documents are indexed with.

A generation owns its rows in ``chunks`` (tagged with its id), its BM25 statistics
(``bm25_corpus``/``bm25_terms`` keyed by its id) and a partial HNSW index over its rows
cast to its dimension. ``generation_documents`` records which version (content hash) of
each document it holds, so a generation built or kept beside the serving one can catch
up the documents that changed meanwhile. Every function runs on the caller's
connection and transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from ragagent.core import models
from ragagent.core.db import Connection
from ragagent.db import embedding_index

State = embedding_index.State
# A generation's builder holds the session-level advisory lock (BUILD_LOCK, its id) on one
# connection from its creation until it is complete. PostgreSQL releases the lock when
# that session ends, so a ``building`` generation whose lock is free has lost its builder
# (a crashed or killed Job). The two-key form never collides with INDEX_LOCK's one key.
BUILD_LOCK = 0x52414703

_COLUMNS = """g.id, g.model, g.dimension, g.chunk_size, g.chunk_overlap, g.state, g.scores,
    g.created_at, g.served_at, g.retired_at, coalesce(s.chunk_count, 0) AS chunks"""
_SELECT = (
    f"SELECT {_COLUMNS} FROM index_generations g LEFT JOIN bm25_corpus s ON s.generation = g.id"
)


@dataclass(frozen=True)
class Generation:
    """One generation as stored; ``chunks`` is its chunk count (from its BM25 statistics)."""

    id: int
    model: embedding_index.IndexModel
    chunking: embedding_index.Chunking | None
    state: State
    chunks: int
    scores: dict[str, Any] | None
    row: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Generation:
        model = embedding_index.IndexModel(str(row["model"]), int(row["dimension"]))
        chunking = embedding_index.Chunking.from_row(row)
        return cls(
            int(row["id"]), model, chunking, row["state"], int(row["chunks"]), row["scores"], row
        )

    def to_public(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``ragagent index list`` prints)."""
        return {
            "generation": self.id,
            "state": self.state,
            "model": self.model.model,
            "dimension": self.model.dimension,
            "chunk_size": self.chunking.size if self.chunking else None,
            "chunk_overlap": self.chunking.overlap if self.chunking else None,
            "chunks": self.chunks,
            "created_at": self.row["created_at"].isoformat(),
            "retired_at": self.row["retired_at"].isoformat() if self.row["retired_at"] else None,
        }


@dataclass(frozen=True)
class Behind:
    """A document whose stored version a generation does not hold yet."""

    id: int
    content_hash: str
    body: str | None


async def list_all(conn: Connection) -> list[Generation]:
    cursor = await conn.execute(f"{_SELECT} ORDER BY g.id")
    return [Generation.from_row(r) for r in await cursor.fetchall()]


async def get(conn: Connection, generation: int) -> Generation | None:
    cursor = await conn.execute(f"{_SELECT} WHERE g.id = %s", (generation,))
    row = await cursor.fetchone()
    return None if row is None else Generation.from_row(row)


async def read_serving(conn: Connection) -> Generation | None:
    """The serving generation; None before any model claimed the database."""
    cursor = await conn.execute(f"{_SELECT} WHERE g.state = 'serving'")
    row = await cursor.fetchone()
    return None if row is None else Generation.from_row(row)


async def set_state(conn: Connection, generation: int, state: State) -> None:
    await conn.execute(
        "UPDATE index_generations SET state = %s, updated_at = now(), "
        "served_at = CASE WHEN %s = 'serving' THEN now() ELSE served_at END, "
        "retired_at = CASE WHEN %s = 'retained' THEN now() ELSE retired_at END WHERE id = %s",
        (state, state, state, generation),
    )


async def store_scores(conn: Connection, generation: int, scores: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE index_generations SET scores = %s, updated_at = now() WHERE id = %s",
        (Jsonb(scores), generation),
    )


async def delete(conn: Connection, generation: int) -> None:
    """Drop a generation: its statistics first, so deleting its chunks updates none."""
    await conn.execute("DELETE FROM bm25_corpus WHERE generation = %s", (generation,))
    await conn.execute("DELETE FROM chunks WHERE generation = %s", (generation,))
    await conn.execute(
        sql.SQL("DROP INDEX IF EXISTS {}").format(
            sql.Identifier(embedding_index.hnsw_index_name(generation))
        )
    )
    await conn.execute("DELETE FROM index_generations WHERE id = %s", (generation,))


async def hold_build_lock(conn: Connection, generation: int) -> None:
    await conn.execute("SELECT pg_advisory_lock(%s, %s)", (BUILD_LOCK, generation))


async def try_build_lock(conn: Connection, generation: int) -> bool:
    """Whether the lock was free (and is now the caller's): False while a builder lives."""
    cursor = await conn.execute(
        "SELECT pg_try_advisory_lock(%s, %s) AS free", (BUILD_LOCK, generation)
    )
    row = await cursor.fetchone()
    return bool(row and row["free"])


async def release_build_lock(conn: Connection, generation: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (BUILD_LOCK, generation))


async def touch(conn: Connection, generation: int) -> None:
    """Record that the generation's builder is still writing (its heartbeat)."""
    await conn.execute(
        "UPDATE index_generations SET updated_at = now() WHERE id = %s", (generation,)
    )


async def list_stale_building(conn: Connection, *, idle_seconds: float) -> list[int]:
    """``building`` generations not written for ``idle_seconds``: abandoned unless their
    builder still holds its lock (see BUILD_LOCK)."""
    cursor = await conn.execute(
        "SELECT id FROM index_generations WHERE state = 'building' "
        "AND updated_at <= now() - make_interval(secs => %s::float8) ORDER BY id",
        (idle_seconds,),
    )
    return [int(r["id"]) for r in await cursor.fetchall()]


async def list_behind(conn: Connection, generation: int, *, after: int, limit: int) -> list[Behind]:
    """Documents (by id, past ``after``) the generation holds another version of, or none."""
    cursor = await conn.execute(
        "SELECT d.id, d.content_hash, d.body FROM documents d "
        "LEFT JOIN generation_documents g ON g.document_id = d.id AND g.generation = %s "
        "WHERE g.content_hash IS DISTINCT FROM d.content_hash AND d.id > %s "
        "ORDER BY d.id LIMIT %s",
        (generation, after, limit),
    )
    return [
        Behind(int(r["id"]), str(r["content_hash"]), r["body"]) for r in await cursor.fetchall()
    ]


async def count_behind(conn: Connection, generation: int) -> int:
    cursor = await conn.execute(
        "SELECT count(*) AS n FROM documents d "
        "LEFT JOIN generation_documents g ON g.document_id = d.id AND g.generation = %s "
        "WHERE g.content_hash IS DISTINCT FROM d.content_hash",
        (generation,),
    )
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0


async def read_texts(
    conn: Connection, generation: int, document_ids: Sequence[int]
) -> dict[int, tuple[str, list[str]]]:
    """document id -> (the content hash the generation holds, its chunk texts in order)."""
    cursor = await conn.execute(
        "SELECT g.document_id, g.content_hash, array_agg(c.text ORDER BY c.ordinal) AS texts "
        "FROM generation_documents g JOIN chunks c "
        "ON c.generation = g.generation AND c.document_id = g.document_id "
        "WHERE g.generation = %s AND g.document_id = ANY(%s) GROUP BY 1, 2",
        (generation, list(document_ids)),
    )
    return {
        int(r["document_id"]): (str(r["content_hash"]), list(r["texts"]))
        for r in await cursor.fetchall()
    }


async def write_document(
    conn: Connection,
    generation: int,
    document_id: int,
    content_hash: str,
    chunks: tuple[Sequence[str], models.Vector],
) -> None:
    """Replace the document's chunks in the generation and record the version they hold."""
    await conn.execute(
        "DELETE FROM chunks WHERE generation = %s AND document_id = %s", (generation, document_id)
    )
    texts, vectors = chunks
    async with conn.cursor().copy(
        "COPY chunks (generation, document_id, ordinal, text, embedding) "
        "FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int4", "int8", "int4", "text", "vector"])
        for ordinal, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
            await copy.write_row((generation, document_id, ordinal, text, vector))
    await conn.execute(
        "INSERT INTO generation_documents (generation, document_id, content_hash) "
        "VALUES (%s, %s, %s) ON CONFLICT (generation, document_id) "
        "DO UPDATE SET content_hash = EXCLUDED.content_hash",
        (generation, document_id, content_hash),
    )


async def update_chunk_counts(conn: Connection, generation: int) -> None:
    """Make every document's ``chunk_count`` the generation's (what a switch serves)."""
    await conn.execute(
        "UPDATE documents d SET chunk_count = n.count FROM ("
        "SELECT document_id, count(*) AS count FROM chunks WHERE generation = %s "
        "GROUP BY document_id) AS n WHERE n.document_id = d.id AND d.chunk_count <> n.count",
        (generation,),
    )


async def list_prunable(conn: Connection, *, keep: int, max_age_days: float | None) -> list[int]:
    """Retained generations past the newest ``keep``, or retired more than ``max_age_days`` ago."""
    cursor = await conn.execute(
        "SELECT id FROM (SELECT id, retired_at, "
        "row_number() OVER (ORDER BY retired_at DESC, id DESC) AS newest "
        "FROM index_generations WHERE state = 'retained') AS r "
        "WHERE newest > %s OR (%s::float8 IS NOT NULL "
        "AND retired_at < now() - make_interval(secs => %s::float8 * 86400)) ORDER BY id",
        (keep, max_age_days, max_age_days),
    )
    return [int(r["id"]) for r in await cursor.fetchall()]
