"""The embedding-model guard: which model and dimension the serving index generation has.

The ``embedding_index`` view shows the serving generation (ragagent.db.generations).
The first model to use an empty database claims it: generation 1 is created for it,
serving, with its HNSW index. Any other configured model is refused with
``EmbeddingModelMismatch`` until a generation built with it is switched to
(``ragagent reindex`` or ``ragagent index build`` then ``switch``), so vectors from two
models are never compared. Retrieval alone may go on with the previous model after a
switch: it searches the retained generation of that model (``build_searched``), while
ingestion with it is refused, since it would write into the serving generation.

The view also shows the chunking the serving chunks were cut with, but another
configured chunking refuses nothing: chunks cut with other settings are still text with
comparable vectors, so retrieval keeps using them and ingestion cuts the documents it
writes with the configured chunking until a re-chunked generation is switched to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from psycopg import sql

from ragagent.core import errors
from ragagent.core.db import Connection

# Ingestion holds it shared while it writes to the serving generation; claiming a database
# and switching generations hold it exclusively, so a write never lands in a generation
# that stopped serving while it was written.
INDEX_LOCK = 0x52414702

State = Literal["building", "ready", "serving", "retained"]


@dataclass(frozen=True)
class IndexModel:
    model: str
    dimension: int

    @classmethod
    def from_row(cls, row: dict[str, Any] | None) -> IndexModel | None:
        """The model a row records; None without a row (nothing claimed)."""
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


READ_MODEL_SQL = "SELECT generation, model, dimension FROM embedding_index"


async def read_index_model(conn: Connection) -> IndexModel | None:
    """The serving model, or None when no model has claimed the database yet."""
    cursor = await conn.execute(READ_MODEL_SQL)
    return IndexModel.from_row(await cursor.fetchone())


async def read_index_record(conn: Connection) -> IndexRecord | None:
    """The serving model and chunking, or None when no model has claimed the database yet."""
    cursor = await conn.execute(
        "SELECT model, dimension, chunk_size, chunk_overlap FROM embedding_index"
    )
    row = await cursor.fetchone()
    model = IndexModel.from_row(row)
    if row is None or model is None:
        return None
    return IndexRecord(model, Chunking.from_row(row))


# The serving generation and, when it has another model than the searcher's, the generation
# with the searcher's model and dimension that retired most recently (NULL when none did).
READ_SEARCHED_SQL = """
    SELECT e.generation, e.model, e.dimension,
        CASE WHEN e.model = %(model)s AND e.dimension = %(dimension)s THEN NULL ELSE (
            SELECT id FROM index_generations
            WHERE state = 'retained' AND model = %(model)s AND dimension = %(dimension)s
            ORDER BY retired_at DESC NULLS LAST, id DESC LIMIT 1) END AS retained
    FROM embedding_index e
"""


@dataclass(frozen=True)
class Searched:
    """The generation a search reads, and whether it is the serving one or a retained one."""

    generation: int
    serving: bool = True


def build_searched(row: dict[str, Any] | None, wanted: IndexModel) -> Searched | None:
    """Which generation a search with ``wanted``'s model reads, from a READ_SEARCHED_SQL row.

    The serving generation when it has that model; otherwise the newest retained one that
    has it: during a roll to a new model the pods still on the previous one keep
    answering from the index they were built for. None when nothing is claimed yet.
    Raises EmbeddingModelMismatch when neither has the model.
    """
    if row is None:
        return None
    if row["retained"] is not None:
        return Searched(int(row["retained"]), serving=False)
    check_model(IndexModel.from_row(row), wanted)
    return Searched(int(row["generation"]))


def check_model(recorded: IndexModel | None, wanted: IndexModel) -> None:
    """Raise EmbeddingModelMismatch when the serving generation has another model."""
    if recorded is not None and recorded != wanted:
        raise errors.EmbeddingModelMismatch(
            f"the index was built with {recorded.model} ({recorded.dimension}-d) but the "
            f"configured embedder is {wanted.model} ({wanted.dimension}-d); "
            "run `ragagent reindex` to re-embed the documents with the new model"
        )


async def _serving(conn: Connection) -> tuple[int, IndexModel] | None:
    cursor = await conn.execute(READ_MODEL_SQL)
    row = await cursor.fetchone()
    model = IndexModel.from_row(row)
    return None if row is None or model is None else (int(row["generation"]), model)


async def ensure_index_model(
    conn: Connection, wanted: IndexModel, *, chunking: Chunking | None = None
) -> int:
    """The serving generation's id, claiming an unclaimed database for ``wanted``.

    Raises EmbeddingModelMismatch when the serving generation has another model. A claim
    records ``chunking`` too (None: unknown). Runs inside the caller's transaction and
    holds the index lock (shared) until it ends, so a switch waits for the write.
    """
    serving = await _serving(conn)
    if serving is None:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (INDEX_LOCK,))
        serving = await _serving(conn)
        if serving is None:
            return await create(conn, wanted, chunking, state="serving")
    else:
        await conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (INDEX_LOCK,))
        # Read again under the lock: a switch may have committed since the first read.
        serving = await _serving(conn)
    if serving is None:  # only a manual edit of index_generations gets here
        raise errors.AgentError("no index generation is serving")
    check_model(serving[1], wanted)
    return serving[0]


def hnsw_index_name(generation: int) -> str:
    return f"chunks_embedding_hnsw_{generation}"


def build_vector_expression(dimension: int) -> str:
    """The indexed expression; a query must repeat it for the planner to use the index."""
    return f"(c.embedding::vector({int(dimension)}))"


def build_hnsw_sql(generation: int, dimension: int, *, concurrently: bool) -> sql.Composed:
    return sql.SQL(
        "CREATE INDEX {} IF NOT EXISTS {} ON chunks USING hnsw "
        "((embedding::vector({})) vector_cosine_ops) WHERE generation = {}"
    ).format(
        sql.SQL("CONCURRENTLY") if concurrently else sql.SQL(""),
        sql.Identifier(hnsw_index_name(generation)),
        sql.Literal(int(dimension)),
        sql.Literal(int(generation)),
    )


async def create(
    conn: Connection,
    model: IndexModel,
    chunking: Chunking | None,
    *,
    state: State,
) -> int:
    """A new generation with the next id and empty statistics; its id.

    A serving one (claiming an empty database) gets its HNSW index at once; a building
    one gets it when its chunks are written (``build_hnsw_sql``), which is faster.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (INDEX_LOCK,))
    cursor = await conn.execute(
        "INSERT INTO index_generations (id, model, dimension, chunk_size, chunk_overlap, state, "
        "served_at) SELECT coalesce(max(id), 0) + 1, %s, %s, %s, %s, %s, "
        "CASE WHEN %s = 'serving' THEN now() END FROM index_generations RETURNING id",
        (
            model.model,
            model.dimension,
            chunking.size if chunking else None,
            chunking.overlap if chunking else None,
            state,
            state,
        ),
    )
    row = await cursor.fetchone()
    assert row is not None
    generation = int(row["id"])
    await conn.execute("INSERT INTO bm25_corpus (generation) VALUES (%s)", (generation,))
    if state == "serving":
        await conn.execute(build_hnsw_sql(generation, model.dimension, concurrently=False))
    return generation


# The first generation's HNSW index (a fresh database's only one, as the benchmarks use).
HNSW_INDEX = hnsw_index_name(1)
