"""SQL for synced knowledge sources: which documents a source owns, their HTTP validators,
and pruning. Every function runs on the caller's connection (and so inside the
caller's transaction); none commits by itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ragagent.core.db import Connection


@dataclass(frozen=True)
class SourceCounts:
    documents: int
    chunks: int


async def claim(conn: Connection, source: str, external_ids: Sequence[str]) -> None:
    """Mark these documents as ``source``'s; rows already marked are not written again."""
    await conn.execute(
        "UPDATE documents SET sync_source = %s "
        "WHERE external_id = ANY(%s) AND sync_source IS DISTINCT FROM %s",
        (source, list(external_ids), source),
    )


async def set_validators(
    conn: Connection, external_id: str, etag: str | None, last_modified: str | None
) -> None:
    """Record the HTTP validators a URL document was fetched with (unchanged: no write)."""
    await conn.execute(
        "UPDATE documents SET http_etag = %s, http_last_modified = %s WHERE external_id = %s "
        "AND (http_etag IS DISTINCT FROM %s OR http_last_modified IS DISTINCT FROM %s)",
        (etag, last_modified, external_id, etag, last_modified),
    )


async def delete_gone(
    conn: Connection, source: str, keep: Sequence[str], keep_prefixes: Sequence[str] = ()
) -> list[str]:
    """Delete ``source``'s documents that are neither in ``keep`` nor start with one of
    ``keep_prefixes`` (their chunks cascade); returns their external ids."""
    cursor = await conn.execute(
        "DELETE FROM documents WHERE sync_source = %s AND NOT (external_id = ANY(%s)) "
        "AND NOT EXISTS (SELECT 1 FROM unnest(%s::text[]) AS p(prefix) "
        "WHERE starts_with(external_id, p.prefix)) RETURNING external_id",
        (source, list(keep), list(keep_prefixes)),
    )
    return sorted(str(r["external_id"]) for r in await cursor.fetchall())


async def delete_unlisted(conn: Connection, sources: Sequence[str]) -> dict[str, int]:
    """Delete the documents of every synced source not in ``sources``: source -> count."""
    cursor = await conn.execute(
        "DELETE FROM documents WHERE sync_source IS NOT NULL AND NOT (sync_source = ANY(%s)) "
        "RETURNING sync_source",
        (list(sources),),
    )
    deleted: dict[str, int] = {}
    for row in await cursor.fetchall():
        deleted[str(row["sync_source"])] = deleted.get(str(row["sync_source"]), 0) + 1
    return deleted


async def count_source(conn: Connection, source: str) -> SourceCounts:
    """How many documents ``source`` owns, and their chunks."""
    cursor = await conn.execute(
        "SELECT count(*) AS documents, coalesce(sum(chunk_count), 0) AS chunks "
        "FROM documents WHERE sync_source = %s",
        (source,),
    )
    row = await cursor.fetchone()
    return SourceCounts(int(row["documents"]), int(row["chunks"])) if row else SourceCounts(0, 0)
