"""A backup taken while writes continue is one consistent snapshot.

A writer thread commits conversations (each with one message, in one
transaction) as fast as it can while the backup runs. Every conversation
committed before the backup started must be in it, the two tables must agree
with each other (the snapshot never splits a transaction), and the manifest's
counts must be what the restored database holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from ragagent.backup import dump, restore
from tests.agent.backup import agentdata

pytestmark = pytest.mark.db


class Writer(threading.Thread):
    """Commits one conversation + message per transaction and records each acknowledged id."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.acked: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url) as conn:
            while not self.stop.is_set():
                with conn.transaction():
                    row = conn.execute(
                        "INSERT INTO conversations (user_id, message_count) "
                        "VALUES ('writer', 1) RETURNING id::text"
                    ).fetchone()
                    assert row is not None
                    conn.execute(
                        "INSERT INTO messages (conversation_id, role, content) "
                        "VALUES (%s, 'user', 'x')",
                        (row[0],),
                    )
                self.acked.append(row[0])


def restored_ids(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT id::text FROM conversations")}


async def test_backup_under_concurrent_writes_is_consistent(
    db_url: str, new_database: Callable[[], str], tmp_path: Path
) -> None:
    await agentdata.fill(db_url, users=2, turns=2)
    writer = Writer(db_url)
    writer.start()
    try:
        while len(writer.acked) < 50:
            writer.join(0.01)
        acked_before = list(writer.acked)
        result = dump.run_backup(url=db_url, directory=tmp_path)
        acked_after = len(writer.acked)
    finally:
        writer.stop.set()
        writer.join()

    assert acked_after > len(acked_before), "the writer must keep writing during the backup"
    rows = result.manifest.rows
    assert rows["messages"] - rows["conversations"] == 2 * 3 - 2
    written_by_writer = rows["conversations"] - 2
    assert len(acked_before) <= written_by_writer <= acked_after

    target = new_database()
    restore.run_restore(backup=result.path, url=target, force=False)
    ids = restored_ids(target)
    assert set(acked_before) <= ids
    assert len(ids) == rows["conversations"]
