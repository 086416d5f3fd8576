"""The embedding-model guard: which model and dimension built the stored vectors.

One row in ``embedding_index`` records them. The first model to use an empty
database claims it: the vector column gets its fixed dimension and the HNSW
index is built. Any other configured model is refused with
``EmbeddingModelMismatch`` until ``ragagent reindex`` re-embeds every chunk, so
vectors from two models are never mixed or compared.

The row also records the chunking the chunks were cut with, but another
configured chunking refuses nothing: chunks cut with other settings are still
text with comparable vectors, so retrieval keeps using them and ingestion cuts
the documents it writes with the configured chunking. ``ragagent reindex``
brings the stored documents to the configured chunking and records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from ragagent.core import errors
from ragagent.core.db import Connection

# Serialises claiming and re-indexing between processes.
INDEX_LOCK = 0x52414702
HNSW_INDEX = "chunks_embedding_hnsw"


@dataclass(frozen=True)
class IndexModel:
    model: str
    dimension: int

    @classmethod
    def from_row(cls, row: dict[str, Any] | None) -> IndexModel | None:
        """The model an ``embedding_index`` row records; None without a row (nothing claimed)."""
        return None if row is None else cls(str(row["model"]), int(row["dimension"]))


@dataclass(frozen=True)
class Chunking:
    """Chunk size and overlap, in characters."""

    size: int
    overlap: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Chunking | None:
        """The chunking a row records; None when the row predates recording it."""
        if row["chunk_size"] is None or row["chunk_overlap"] is None:
            return None
        return cls(int(row["chunk_size"]), int(row["chunk_overlap"]))


@dataclass(frozen=True)
class IndexRecord:
    """The recorded model and chunking; ``chunking`` is None when recorded before it was kept."""

    model: IndexModel
    chunking: Chunking | None


READ_MODEL_SQL = "SELECT model, dimension FROM embedding_index"


async def read_index_model(conn: Connection) -> IndexModel | None:
    """The recorded model, or None when no model has claimed the database yet."""
    cursor = await conn.execute(READ_MODEL_SQL)
    return IndexModel.from_row(await cursor.fetchone())


async def read_index_record(conn: Connection) -> IndexRecord | None:
    """The recorded model and chunking, or None when no model has claimed the database yet."""
    cursor = await conn.execute(
        "SELECT model, dimension, chunk_size, chunk_overlap FROM embedding_index"
    )
    row = await cursor.fetchone()
    model = IndexModel.from_row(row)
    if row is None or model is None:
        return None
    return IndexRecord(model, Chunking.from_row(row))


def check_model(recorded: IndexModel | None, wanted: IndexModel) -> None:
    """Raise EmbeddingModelMismatch when the index was built with another model."""
    if recorded is not None and recorded != wanted:
        raise errors.EmbeddingModelMismatch(
            f"the index was built with {recorded.model} ({recorded.dimension}-d) but the "
            f"configured embedder is {wanted.model} ({wanted.dimension}-d); "
            "run `ragagent reindex` to re-embed the documents with the new model"
        )


async def ensure_index_model(
    conn: Connection, wanted: IndexModel, *, chunking: Chunking | None = None
) -> None:
    """Claim an unclaimed database for ``wanted`` or check it matches; idempotent.

    A claim records ``chunking`` too (None: unknown); an existing record's chunking is
    left alone, whatever it is. Runs inside the caller's transaction, so a claim and
    the first chunks commit together.
    """
    recorded = await read_index_model(conn)
    if recorded is None:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (INDEX_LOCK,))
        recorded = await read_index_model(conn)
    if recorded is None:
        await _set_dimension(conn, wanted.dimension)
        await _record(conn, wanted, chunking)
        return
    check_model(recorded, wanted)


async def _record(conn: Connection, wanted: IndexModel, chunking: Chunking | None) -> None:
    """Replace the record: a new ``created_at`` says when the index was (re)built."""
    await conn.execute("DELETE FROM embedding_index")
    await conn.execute(
        "INSERT INTO embedding_index (model, dimension, chunk_size, chunk_overlap) "
        "VALUES (%s, %s, %s, %s)",
        (
            wanted.model,
            wanted.dimension,
            chunking.size if chunking else None,
            chunking.overlap if chunking else None,
        ),
    )


async def _set_dimension(conn: Connection, dimension: int | None) -> None:
    """Fix the vector column's dimension and (re)build the HNSW index on it.

    ``None`` removes the fixed dimension and the index, which lets re-indexing
    write vectors of the new size before fixing it again.
    """
    await conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(HNSW_INDEX)))
    column_type: sql.Composable = sql.SQL("vector")
    if dimension is not None:
        column_type = sql.SQL("vector({})").format(sql.Literal(int(dimension)))
    await conn.execute(
        sql.SQL("ALTER TABLE chunks ALTER COLUMN embedding TYPE {}").format(column_type)
    )
    if dimension is not None:
        await conn.execute(
            sql.SQL("CREATE INDEX {} ON chunks USING hnsw (embedding vector_cosine_ops)").format(
                sql.Identifier(HNSW_INDEX)
            )
        )


async def begin_reindex(conn: Connection) -> None:
    """Lock the index and drop the dimension so vectors of any size can be written."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (INDEX_LOCK,))
    await _set_dimension(conn, None)


async def finish_reindex(conn: Connection, wanted: IndexModel, chunking: Chunking) -> None:
    """Fix the new dimension, rebuild HNSW and record the new model and chunking."""
    await _set_dimension(conn, wanted.dimension)
    await _record(conn, wanted, chunking)
