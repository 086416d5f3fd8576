"""Scenario "db-outage": PostgreSQL stops under load and comes back.

Chat clients (REST, SSE, WebSocket) and document writers run throughout; the database is
stopped (a fast shutdown: every connection is cut) for 30 s and started again on the same
socket and data directory. Must hold: every failure is a 503, and over HTTP one with a
Retry-After header (never a 500, never a dropped connection); every turn and document the
clients were told succeeded is in the database afterwards; every request begun more than
5 s after the database accepts connections again succeeds. Short: a 5 s outage with fewer
clients.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from bench import _soak_agent, _soak_clients
from bench._soak import Outcome, raise_fd_limit
from bench._soak_clients import Turn
from tests.support.stoppable_pg import StoppableDatabase

RESUME_LIMIT_SECONDS = 5.0
_documents = itertools.count(1)


@dataclass(frozen=True)
class Size:
    chat_clients: int
    writers: int
    before: float  # seconds of load before the database stops
    outage: float
    after: float
    think: tuple[float, float]


FULL = Size(chat_clients=24, writers=2, before=20, outage=30, after=20, think=(0.2, 1.0))
SHORT = Size(chat_clients=6, writers=1, before=3, outage=5, after=7, think=(0.1, 0.5))


@dataclass
class Record:
    turns: list[Turn]
    documents: list[Turn]  # transport "document"; question is the external_id
    stopped_at: float = 0.0  # time.monotonic() when the stop began
    back_at: float = 0.0  # time.monotonic() when the database accepted connections again


def run(short: bool) -> Outcome:
    raise_fd_limit(4096)
    size = SHORT if short else FULL
    with _soak_agent.running() as (database, agent):
        record = asyncio.run(drive(database, agent, size))
        lost_turns, lost_documents = find_lost(database.url, record)
    return judge(size, record, lost_turns, lost_documents)


async def drive(database: StoppableDatabase, agent: _soak_agent.Agent, size: Size) -> Record:
    record = Record(turns=[], documents=[])
    until = time.monotonic() + size.before + size.outage + size.after
    async with _soak_clients.http_client(agent.base, size.chat_clients + 20) as http:
        loops = _soak_clients.chat_clients(
            size.chat_clients, http=http, until=until, think=size.think, record=record.turns.append
        )
        loops += [write_loop(http, until, size.think, record) for _ in range(size.writers)]
        loops.append(outage(database, size, record))
        await asyncio.gather(*loops)
    return record


async def outage(database: StoppableDatabase, size: Size, record: Record) -> None:
    """Stop the database after ``size.before`` and start it again after ``size.outage``."""
    await asyncio.sleep(size.before)
    record.stopped_at = time.monotonic()
    await asyncio.to_thread(database.stop)
    await asyncio.sleep(size.outage)
    await asyncio.to_thread(database.start)
    record.back_at = time.monotonic()


async def write_loop(
    http: httpx.AsyncClient, until: float, think: tuple[float, float], record: Record
) -> None:
    """Ingest a new small document, again and again, recording each answer."""
    while time.monotonic() < until:
        number = next(_documents)
        external_id = f"soak-document-{number}"
        text = f"Soak document {number} says the kettle number {number} boils in {number} s."
        write = Turn("document", external_id, time.monotonic())
        try:
            body = {"external_id": external_id, "title": external_id, "text": text}
            response = await http.post("/v1/documents", json=body)
            write.status, write.retry_after = (
                response.status_code,
                response.headers.get("retry-after"),
            )
            if response.status_code in (200, 201):
                write.status, write.conversation_id = 200, external_id
            else:
                write.detail = response.text[:200]
        except httpx.HTTPError as exc:
            write.detail = repr(exc)
        write.seconds = time.monotonic() - write.started
        record.documents.append(write)
        await asyncio.sleep(random.uniform(*think))  # noqa: S311 (not a secret)


LOST_TURNS = """
SELECT t.n FROM unnest(%s::uuid[], %s::text[]) WITH ORDINALITY AS t(cid, question, n)
WHERE NOT EXISTS (
    SELECT 1 FROM messages asked
    WHERE asked.conversation_id = t.cid AND asked.role = 'user' AND asked.content = t.question
      AND EXISTS (SELECT 1 FROM messages answer WHERE answer.conversation_id = t.cid
                  AND answer.role = 'assistant' AND answer.id > asked.id))
"""
LOST_DOCUMENTS = """
SELECT e.id FROM unnest(%s::text[]) AS e(id)
WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.external_id = e.id)
"""
STORED = "SELECT role, left(content, 60) FROM messages WHERE conversation_id = %s ORDER BY id"


def find_lost(url: str, record: Record) -> tuple[list[str], list[str]]:
    """The acknowledged turns (question and answer) and documents the database lacks; a
    lost turn is described with what its conversation does hold."""
    turns = [t for t in record.turns if t.acknowledged]
    documents = [d.question for d in record.documents if d.acknowledged]
    with psycopg.connect(url) as conn:
        cids = [t.conversation_id for t in turns]
        rows = conn.execute(LOST_TURNS, (cids, [t.question for t in turns])).fetchall()
        lost_turns = [describe(conn, turns[n - 1], record.stopped_at) for (n,) in rows]
        lost_documents = conn.execute(LOST_DOCUMENTS, (documents,)).fetchall()
    return lost_turns, [row[0] for row in lost_documents]


def describe(conn: psycopg.Connection[Any], turn: Turn, stopped_at: float) -> str:
    stored = conn.execute(STORED, (turn.conversation_id,)).fetchall()
    when = turn.started - stopped_at
    return (
        f"{turn.transport} turn {turn.question!r} started {when:+.1f} s from the stop, "
        f"took {turn.seconds:.1f} s; conversation {turn.conversation_id} holds {stored}"
    )


def judge(size: Size, record: Record, lost_turns: list[str], lost_documents: list[str]) -> Outcome:
    outcome = Outcome("db-outage")
    requests = record.turns + record.documents
    failed = [r for r in requests if not r.acknowledged]
    wrong = [r for r in failed if r.status != 503]
    bare = [r for r in failed if r.status == 503 and not r.in_stream and not r.retry_after]
    numbers = outcome.numbers
    numbers["outage seconds"] = size.outage
    numbers["chat turns"], numbers["documents"] = len(record.turns), len(record.documents)
    numbers["acknowledged turns"] = sum(1 for t in record.turns if t.acknowledged)
    numbers["acknowledged documents"] = sum(1 for d in record.documents if d.acknowledged)
    numbers["503 answers"] = sum(1 for r in failed if r.status == 503)
    numbers["other failures"] = len(wrong)
    after = [r for r in failed if r.started >= record.back_at]
    # Serving has resumed from the moment every request begun since succeeds: the start
    # of the last request that failed, counted from the database's return (0 if none did).
    resumed = max((r.started - record.back_at for r in after), default=0.0)
    numbers["failures begun after the return"] = len(after)
    numbers["last failure began after the return, s"] = round(resumed, 2)
    answered = [r.started + r.seconds - record.back_at for r in requests if r.acknowledged]
    numbers["first answer after the return, s"] = round(min(a for a in answered if a >= 0), 2)
    examples = "; ".join(f"{r.transport} {r.status} {r.detail[:100]}" for r in wrong[:3])
    outcome.check("the outage was seen (503s)", numbers["503 answers"] > 0)  # type: ignore[operator]
    outcome.check("every failure is a 503 (no 500, no dropped connection)", not wrong, examples)
    outcome.check("every HTTP 503 has Retry-After", not bare, f"{len(bare)} without")
    outcome.check("no acknowledged turn lost", not lost_turns, "; ".join(lost_turns[:3]))
    outcome.check(
        "no acknowledged document lost", not lost_documents, ", ".join(lost_documents[:5])
    )
    outcome.check(
        f"serving again within {RESUME_LIMIT_SECONDS:g} s of the database's return",
        resumed <= RESUME_LIMIT_SECONDS,
        f"the last failure began {resumed:.2f} s after it",
    )
    return outcome
