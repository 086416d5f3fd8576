"""SQL for documents (their chunks: ragagent.db.generations). Every function runs on the
caller's connection (and so inside the caller's transaction); none commits by itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from ragagent.core import models
from ragagent.core.db import Connection

_COLUMNS = """id, external_id, title, source, content_type, content_hash, metadata,
    char_count, chunk_count, created_at, updated_at"""


@dataclass(frozen=True)
class StoredHash:
    """What ingestion compares against: the stored hash, and whether a body is kept; and
    for a synced URL document, the HTTP validators it was fetched with."""

    id: int
    content_hash: str
    has_body: bool
    etag: str | None = None
    last_modified: str | None = None


async def find_hashes(conn: Connection, external_ids: Sequence[str]) -> dict[str, StoredHash]:
    """external_id -> its StoredHash, for those that exist."""
    cursor = await conn.execute(
        "SELECT id, external_id, content_hash, body IS NOT NULL AS has_body, http_etag, "
        "http_last_modified FROM documents WHERE external_id = ANY(%s)",
        (list(external_ids),),
    )
    rows = await cursor.fetchall()
    return {
        str(r["external_id"]): StoredHash(
            int(r["id"]),
            str(r["content_hash"]),
            bool(r["has_body"]),
            r["http_etag"],
            r["http_last_modified"],
        )
        for r in rows
    }


async def upsert_document(conn: Connection, doc: models.DocumentValues) -> tuple[int, bool] | None:
    """Insert or replace the document row; returns (id, created).

    A row with the same hash but no body (ingested before bodies were kept) is
    replaced too. Returns None when a row with the same hash and a body already
    exists (a concurrent ingest of the same content won): nothing must be written.
    """
    cursor = await conn.execute(
        """INSERT INTO documents (external_id, title, source, content_type, content_hash,
               metadata, char_count, chunk_count, body)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (external_id) DO UPDATE SET
               title = EXCLUDED.title, source = EXCLUDED.source,
               content_type = EXCLUDED.content_type, content_hash = EXCLUDED.content_hash,
               metadata = EXCLUDED.metadata, char_count = EXCLUDED.char_count,
               chunk_count = EXCLUDED.chunk_count, body = EXCLUDED.body, updated_at = now()
           WHERE documents.content_hash IS DISTINCT FROM EXCLUDED.content_hash
               OR documents.body IS NULL
           RETURNING id, (xmax = 0) AS created""",
        (
            doc.external_id,
            doc.title,
            doc.source,
            doc.content_type,
            doc.content_hash,
            Jsonb(doc.metadata),
            doc.char_count,
            doc.chunk_count,
            doc.body,
        ),
    )
    row = await cursor.fetchone()
    return None if row is None else (int(row["id"]), bool(row["created"]))


async def list_documents(
    conn: Connection, *, limit: int, offset: int, source: str | None = None
) -> tuple[list[models.Document], int]:
    """A page of documents, newest first, and the total count."""
    where = "WHERE source = %(source)s" if source is not None else ""
    params = {"source": source, "limit": limit, "offset": offset}
    cursor = await conn.execute(
        f"SELECT {_COLUMNS}, count(*) OVER () AS total FROM documents {where} "
        "ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    rows = await cursor.fetchall()
    total = int(rows[0]["total"]) if rows else await _count(conn, where, params)
    return [_document(r) for r in rows], total


async def _count(conn: Connection, where: str, params: dict[str, Any]) -> int:
    cursor = await conn.execute(f"SELECT count(*) AS n FROM documents {where}", params)
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0


async def get_document(conn: Connection, key: str) -> models.Document | None:
    """By external_id, or by numeric id when no external_id matches."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM documents WHERE external_id = %s "
        "OR (id::text = %s AND NOT EXISTS (SELECT 1 FROM documents WHERE external_id = %s)) "
        "LIMIT 1",
        (key, key, key),
    )
    row = await cursor.fetchone()
    return None if row is None else _document(row)


async def delete_document(conn: Connection, document_id: int) -> None:
    """Delete a document; its chunks go with it (ON DELETE CASCADE)."""
    await conn.execute("DELETE FROM documents WHERE id = %s", (document_id,))


async def count_documents(conn: Connection) -> int:
    cursor = await conn.execute("SELECT count(*) AS n FROM documents")
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0


def _document(row: dict[str, Any]) -> models.Document:
    return models.Document(**{k: v for k, v in row.items() if k != "total"})
