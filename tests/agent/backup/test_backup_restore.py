"""Backup and restore against the real embedded PostgreSQL, through the CLI commands."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ragagent.backup import restore
from ragagent.backup.manifest import DUMP_FILE, MANIFEST_FILE
from ragagent.core import termination
from ragagent.db.embedding_index import HNSW_INDEX
from tests.agent.backup import agentdata
from tests.agent.backup.cli import run

pytestmark = pytest.mark.db


def drop_database(url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(str(name))))


def names_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def only_backup(directory: Path) -> Path:
    found = sorted(directory.iterdir())
    assert len(found) == 1, found
    return found[0]


async def migrated(url: str) -> None:
    db = await agentdata.open_migrated(url)
    await agentdata.add_conversation(db, "someone", 2)
    await db.close()


@pytest.mark.slow
async def test_round_trip_restores_every_row_and_the_same_search_results(
    db_url: str, backups: Path
) -> None:
    embedder = await agentdata.fill(db_url)
    before = agentdata.table_digest(db_url)
    answers = [await agentdata.top_k(db_url, embedder, q) for q in agentdata.QUERIES]
    assert all(answers)

    made = run("backup", "--dir", str(backups), "--database-url", db_url)
    assert made.exit_code == 0, made.stdout
    assert made.report["result"] == "succeeded"
    assert made.report["rows"] == {name: count for name, (count, _) in before.items()}
    assert made.report["size"] == (only_backup(backups) / DUMP_FILE).stat().st_size

    drop_database(db_url)
    restored = run("restore", str(only_backup(backups)), "--database-url", db_url)
    assert restored.exit_code == 0, restored.stdout
    assert restored.report["result"] == "succeeded"

    assert agentdata.table_digest(db_url) == before
    assert [await agentdata.top_k(db_url, embedder, q) for q in agentdata.QUERIES] == answers


async def test_manifest_records_schema_version_model_and_counts(db_url: str, backups: Path) -> None:
    await migrated(db_url)
    assert run("backup", "--dir", str(backups), "--database-url", db_url).exit_code == 0
    manifest = json.loads((only_backup(backups) / MANIFEST_FILE).read_text())
    with psycopg.connect(db_url) as conn:
        version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    assert version is not None
    assert manifest["schema_version"] == version[0]
    assert manifest["rows"]["conversations"] == 1
    assert manifest["rows"]["messages"] == 3
    assert set(manifest["rows"]) >= {"documents", "chunks", "api_keys", "schema_migrations"}
    assert len(manifest["sha256"]) == 64


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncate", "truncated"),
        ("flip", "checksum"),
        ("drop-manifest", "not a complete backup"),
    ],
)
async def test_damaged_backup_is_refused_before_the_target_is_touched(
    db_url: str, new_database: Callable[[], str], backups: Path, damage: str, reason: str
) -> None:
    await migrated(db_url)
    assert run("backup", "--dir", str(backups), "--database-url", db_url).exit_code == 0
    backup = only_backup(backups)
    dump = backup / DUMP_FILE
    data = bytearray(dump.read_bytes())
    if damage == "truncate":
        dump.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
        dump.write_bytes(bytes(data))
    else:
        (backup / MANIFEST_FILE).unlink()

    target = new_database()
    refused = run("restore", str(backup), "--database-url", target)
    assert refused.exit_code == 1
    assert refused.report["result"] == "failed"
    assert reason in refused.report["reason"]
    assert agentdata.table_digest(target) == {}


async def test_restore_refuses_a_non_empty_database_unless_forced(
    db_url: str, new_database: Callable[[], str], backups: Path
) -> None:
    await migrated(db_url)
    assert run("backup", "--dir", str(backups), "--database-url", db_url).exit_code == 0
    target = new_database()
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE TABLE conversations (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO conversations VALUES (1, 'keep me')")

    refused = run("restore", str(only_backup(backups)), "--database-url", target)
    assert refused.exit_code == 1
    assert "not empty" in refused.report["reason"]
    assert "--force" in refused.report["reason"]
    assert agentdata.table_digest(target)["conversations"][0] == 1

    forced = run("restore", str(only_backup(backups)), "--database-url", target, "--force")
    assert forced.exit_code == 0, forced.stdout
    assert agentdata.table_digest(target) == agentdata.table_digest(db_url)


def test_failed_backup_leaves_nothing_that_looks_complete(
    backups: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    termination_log = tmp_path / "termination-log"
    termination_log.touch()
    monkeypatch.setattr(termination, "TERMINATION_LOG", termination_log)
    unreachable = "postgresql://postgres:s3cr3t-pw@/ragagent?host=/nonexistent-socket-dir"
    failed = run("backup", "--dir", str(backups), "--database-url", unreachable)
    assert failed.exit_code == 1
    assert failed.report["result"] == "failed"
    assert "cannot connect" in failed.report["reason"]
    assert "s3cr3t" not in failed.stdout
    assert names_in(backups) == []
    assert json.loads(termination_log.read_text()) == failed.report


async def test_backup_keeps_the_newest_n(db_url: str, backups: Path) -> None:
    await migrated(db_url)
    base = ("backup", "--dir", str(backups), "--database-url", db_url, "--keep", "2")
    names = []
    for _ in range(3):
        outcome = run(*base)
        assert outcome.exit_code == 0, outcome.stdout
        names.append(Path(outcome.report["backup"]).name)
    assert outcome.report["deleted"] == [names[0]]
    assert names_in(backups) == sorted(names[1:])

    young = run(*base, "--keep", "1", "--min-age-days", "1")
    assert young.report["deleted"] == []
    assert len(names_in(backups)) == 3


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("backup").exit_code == 2
    assert run("backup", "--dir", str(tmp_path), "--keep", "0").exit_code == 2
    assert run("restore").exit_code == 2


async def test_invalid_hnsw_index_is_rebuilt(db_url: str) -> None:
    await agentdata.fill(db_url, users=1, turns=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", (HNSW_INDEX,)
        )
        assert restore.reindex_invalid_hnsw(conn) == [f"public.{HNSW_INDEX}"]
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", (HNSW_INDEX,)
        ).fetchone()
        assert valid == (True,)
        assert restore.reindex_invalid_hnsw(conn) == []


@pytest.mark.slow
async def test_ragagent_command_prints_only_the_json_line_on_stdout(
    db_url: str, backups: Path
) -> None:
    await migrated(db_url)
    entry = "from ragagent.cli import main; main()"
    args = [sys.executable, "-c", entry, "backup", "--dir", str(backups), "--database-url", db_url]
    done = await asyncio.to_thread(
        subprocess.run, args, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.strip().splitlines()
    report = json.loads(line)
    assert report["result"] == "succeeded"
    assert report["rows"]["messages"] == 3
