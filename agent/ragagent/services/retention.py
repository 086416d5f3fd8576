"""Conversation retention and per-user erasure, both written to the audit log.

The purge deletes conversations idle (``updated_at``) for longer than
``conversation_retention_days``; messages go with them by ``ON DELETE
CASCADE``. It deletes in small batches, each its own transaction, so a large
backlog never holds long locks against live chats. The audit records say what
was deleted, by whom and how much, never any message content.

``run_retention_loop`` is the schedule: started in the app lifespan when a
retention is configured, it purges at start-up and then every
``PURGE_INTERVAL_SECONDS``. Several replicas may purge at once; the deletes
are idempotent, so they only share the work.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg

from ragagent.core import background, errors

if TYPE_CHECKING:
    from ragagent.core.db import Database

log = logging.getLogger(__name__)
audit = logging.getLogger("ragagent.audit")

PURGE_INTERVAL_SECONDS = 3600.0
BATCH_SIZE = 500

# message_count is kept in step with the messages table, so the sum counts them.
_PURGE_BATCH = """
WITH gone AS (
    DELETE FROM conversations WHERE id IN (
        SELECT id FROM conversations
        WHERE updated_at < now() - make_interval(days => %(days)s)
        LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
    RETURNING message_count)
SELECT count(*) AS conversations, coalesce(sum(message_count), 0) AS messages FROM gone
"""
_ERASE_USER = """
WITH gone AS (DELETE FROM conversations WHERE user_id = %(user_id)s RETURNING message_count)
SELECT count(*) AS conversations, coalesce(sum(message_count), 0) AS messages FROM gone
"""


@dataclass(frozen=True)
class Deleted:
    conversations: int = 0
    messages: int = 0

    def __add__(self, other: Deleted) -> Deleted:
        return Deleted(self.conversations + other.conversations, self.messages + other.messages)


async def _delete(db: Database, query: str, params: dict[str, object]) -> Deleted:
    async with db.connection() as conn:
        cur = await conn.execute(query, params)
        row = await cur.fetchone()
    return Deleted(int(row["conversations"]), int(row["messages"])) if row else Deleted()


async def purge_expired_conversations(db: Database, *, retention_days: int) -> Deleted:
    """Delete every conversation idle longer than ``retention_days``; returns the totals."""
    if retention_days < 1:
        raise errors.BadRequest("retention must be at least one day")
    total = Deleted()
    params: dict[str, object] = {"days": retention_days, "batch": BATCH_SIZE}
    while (batch := await _delete(db, _PURGE_BATCH, params)).conversations:
        total += batch
    audit.info(
        "expired conversations purged",
        extra={
            "event": "conversations.purged",
            "retention_days": retention_days,
            "conversations": total.conversations,
            "messages": total.messages,
        },
    )
    return total


async def erase_user_data(db: Database, *, user_id: str, actor: str) -> Deleted:
    """Delete all of one user's conversations and messages; ``actor`` is who asked."""
    deleted = await _delete(db, _ERASE_USER, {"user_id": user_id})
    audit.info(
        "user data erased",
        extra={
            "event": "user.erased",
            "actor": actor,
            "subject": user_id,
            "conversations": deleted.conversations,
            "messages": deleted.messages,
        },
    )
    return deleted


async def run_retention_loop(
    db: Database, *, retention_days: int, interval: float = PURGE_INTERVAL_SECONDS
) -> None:
    """Purge now and then every ``interval`` seconds until cancelled.

    A failed run (database down) is logged and retried at the next interval;
    it must never end the loop, or retention would silently stop.
    """
    while True:
        try:
            await purge_expired_conversations(db, retention_days=retention_days)
        except errors.AgentError as exc:
            log.warning("conversation purge failed, retrying later: %s", exc.detail)
        except psycopg.Error as exc:
            log.error("conversation purge failed, retrying later: %s", type(exc).__name__)
        await asyncio.sleep(interval)


def start_retention(db: Database, retention_days: int | None) -> asyncio.Task[None] | None:
    """Start the purge schedule when a retention is configured; None otherwise."""
    if retention_days is None:
        return None
    loop = run_retention_loop(db, retention_days=retention_days)
    return asyncio.create_task(loop, name="ragagent-retention")


async def stop_retention(task: asyncio.Task[None] | None) -> None:
    """Cancel the schedule and wait for it (a purge in progress rolls back)."""
    if task is not None:
        await background.stop(task)
