"""Conversation retention purge and the admin erasure endpoint, on the real app and database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest

from ragagent.core.db import Database
from ragagent.db import conversations
from ragagent.services import retention
from tests.agent.backup import agentdata
from tests.agent.backup.cli import run
from tests.agent.hardening.harness import bearer, create_key, running_app
from tests.support.fixtures_pg import build_test_settings

pytestmark = pytest.mark.db

SECRET_BODY = "my bank password is hunter2"


async def chat(db: Database, user: str, *, replies: int = 1) -> UUID:
    cid = await conversations.create_conversation(db, user_id=user, first_message=SECRET_BODY)
    for _ in range(replies):
        await conversations.add_message(
            db, conversation_id=cid, role="assistant", content=SECRET_BODY, max_messages=50
        )
    return cid


async def age(db: Database, cid: UUID, days: int) -> None:
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE conversations SET updated_at = now() - make_interval(days => %s) WHERE id = %s",
            (days, cid),
        )


async def remaining(db: Database) -> dict[str, int]:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM conversations) AS c, (SELECT count(*) FROM messages) AS m"
        )
        row = await cur.fetchone()
    assert row is not None
    return {"conversations": row["c"], "messages": row["m"]}


def audit_records(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "ragagent.audit" and getattr(r, "event", "") == event
    ]


async def test_purge_deletes_only_expired_conversations_in_batches(
    db: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    old = [await chat(db, f"u{n}", replies=2) for n in range(5)]
    for cid in old:
        await age(db, cid, 31)
    fresh = await chat(db, "u0")
    await age(db, fresh, 29)
    caplog.set_level(logging.INFO, logger="ragagent.audit")

    deleted = await retention.purge_expired_conversations(db, retention_days=30)

    assert deleted == retention.Deleted(conversations=5, messages=15)
    assert await remaining(db) == {"conversations": 1, "messages": 2}
    (record,) = audit_records(caplog, "conversations.purged")
    assert record.__dict__["conversations"] == 5
    assert SECRET_BODY not in caplog.text


async def test_app_purges_on_start_when_retention_is_set(db: Database, tmp_path: Path) -> None:
    await age(db, await chat(db, "u1"), 10)
    keep = await chat(db, "u2")
    settings = build_test_settings(db.url, tmp_path, conversation_retention_days=7)
    async with running_app(settings):
        for _ in range(100):
            if (await remaining(db))["conversations"] == 1:
                break
            await asyncio.sleep(0.05)
        assert await remaining(db) == {"conversations": 1, "messages": 2}
        assert await conversations.get_conversation(db, user_id="u2", conversation_id=keep)


async def test_erasure_needs_admin_and_erases_only_that_user(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(2):
        await chat(db, "alice", replies=3)
    await chat(db, "bob")
    settings = build_test_settings(db.url, tmp_path, auth_disabled=False, secret_key="s" * 40)
    caplog.set_level(logging.INFO, logger="ragagent.audit")
    async with running_app(settings) as running:
        client = running.client
        admin = await create_key(running.state, scopes=["admin"], user="ops")
        chatter = await create_key(running.state, scopes=["chat"], user="alice")
        path = "/v1/users/alice/data"

        assert (await client.delete(path)).status_code == 401
        assert (await client.delete(path, headers=bearer(chatter))).status_code == 403
        assert await remaining(db) == {"conversations": 3, "messages": 10}

        erased = await client.delete(path, headers=bearer(admin))
        assert erased.status_code == 200
        assert erased.json() == {
            "user_id": "alice",
            "conversations_deleted": 2,
            "messages_deleted": 8,
        }
        assert await remaining(db) == {"conversations": 1, "messages": 2}

        again = await client.delete(path, headers=bearer(admin))
        assert again.json()["conversations_deleted"] == 0
        too_long = await client.delete("/v1/users/" + "x" * 300 + "/data", headers=bearer(admin))
        assert too_long.status_code == 422
    records = audit_records(caplog, "user.erased")
    subjects = [(r.__dict__["actor"], r.__dict__["subject"]) for r in records]
    assert subjects == [("apikey-user:ops", "alice"), ("apikey-user:ops", "alice")]
    assert SECRET_BODY not in caplog.text


def test_purge_command_reports_what_it_deleted(new_database: Callable[[], str]) -> None:
    url = new_database()

    async def prepare() -> None:
        db = await agentdata.open_migrated(url)
        try:
            await age(db, await chat(db, "u1", replies=1), 40)
            await chat(db, "u2")
        finally:
            await db.close()

    asyncio.run(prepare())
    outcome = run("purge-conversations", "--database-url", url, "--days", "30")
    assert outcome.exit_code == 0, outcome.stdout
    assert outcome.report == {
        "result": "succeeded",
        "retention_days": 30,
        "conversations": 1,
        "messages": 2,
    }
    assert run("purge-conversations", "--database-url", url).exit_code == 2
