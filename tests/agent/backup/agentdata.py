"""Fill a database the way the running agent does: migrations, ingestion, chats, keys.

Everything goes through the agent's own code (migrate, ingest with the real
local MiniLM embedder, the conversations store, the API-key store), so a
backup test covers exactly the tables and types production holds.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.models import DocumentInput
from ragagent.db import apikeys, conversations
from ragagent.db.migrate import migrate
from ragagent.rag.embeddings import create_embedder
from ragagent.rag.ingest import ingest_documents
from ragagent.rag.retrieval import retrieve
from ragagent.rag.types import Embedder

TOPICS = {
    "lighthouses": "Lighthouses guide ships with rotating lamps and Fresnel lenses.",
    "volcanoes": "Volcanoes erupt molten basalt lava and ash when magma pressure rises.",
    "sourdough": "Sourdough bread rises with wild yeast and lactobacilli in a fed starter.",
    "glaciers": "Glaciers carve U-shaped valleys as compacted ice slowly flows downhill.",
    "bees": "Honey bees dance to tell hive mates the direction of nectar-rich flowers.",
    "chess": "Chess openings like the Sicilian Defence fight for control of the centre.",
    "tides": "Ocean tides follow the pull of the moon and the sun on the seas.",
    "compilers": "Compilers translate source code into machine instructions through parsing.",
    "coffee": "Coffee beans are roasted until the Maillard reaction browns them.",
    "orchids": "Orchids grow on tree bark in humid rainforests and need little soil.",
    "satellites": "Satellites in geostationary orbit circle Earth once per sidereal day.",
    "violins": "Violins are carved from spruce and maple and strung with gut or steel.",
}

QUERIES = [
    "how do ships find the coast at night",
    "what makes bread rise",
    "why does the sea level change every day",
    "how do programs become machine code",
    "insects that communicate by dancing",
]


def corpus() -> list[DocumentInput]:
    docs = []
    for topic, fact in TOPICS.items():
        body = "\n\n".join(f"{fact} Note {n} about {topic}: {fact.lower()}" for n in range(4))
        docs.append(DocumentInput(text=body, external_id=f"doc-{topic}", title=topic.title()))
    return docs


def agent_settings(url: str) -> Settings:
    return Settings(database_url=url, chunk_size=200, chunk_overlap=20, db_pool_max_size=4)


async def open_migrated(url: str) -> Database:
    db = await Database.open(url, agent_settings(url))
    await migrate(db)
    return db


async def fill(url: str, *, users: int = 3, turns: int = 4) -> Embedder:
    """Migrate, ingest the corpus, add conversations and API keys; returns the embedder."""
    settings = agent_settings(url)
    embedder = create_embedder(settings)
    db = await open_migrated(url)
    try:
        await ingest_documents(db=db, embedder=embedder, settings=settings, docs=corpus())
        for user in range(users):
            await add_conversation(db, f"user-{user}", turns)
            await apikeys.insert_key(
                db,
                name=f"k{user}",
                prefix=f"p{user}",
                key_hash="h" * 64,
                user_id=f"user-{user}",
                scopes=["chat"],
            )
    finally:
        await db.close()
    return embedder


async def add_conversation(db: Database, user_id: str, turns: int) -> None:
    cid = await conversations.create_conversation(db, user_id=user_id, first_message="hello")
    for turn in range(turns):
        role = "assistant" if turn % 2 == 0 else "user"
        await conversations.add_message(
            db, conversation_id=cid, role=role, content=f"turn {turn}", max_messages=500
        )


async def top_k(url: str, embedder: Embedder, query: str, k: int = 5) -> list[tuple[Any, ...]]:
    """Retrieval results as comparable tuples (document, chunk text, rounded score)."""
    db = await Database.open(url, agent_settings(url))
    try:
        found = await retrieve(
            db=db, embedder=embedder, query=query, top_k=k, candidates=40, rrf_k=60
        )
    finally:
        await db.close()
    return [(c.document_id, c.chunk_id, c.text, round(c.score, 6)) for c in found]


def table_digest(url: str) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent content hash of every agent table."""
    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {name: _digest(conn, name) for name in names}


def _digest(conn: psycopg.Connection[Any], table: str) -> tuple[int, str]:
    row = conn.execute(
        f"SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) "
        f'FROM "{table}" t'
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])
