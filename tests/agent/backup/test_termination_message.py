"""The result line as the container's termination message, which the operator reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ragagent import cli_backup
from ragagent.backup.manifest import DUMP_FILE, MANIFEST_FILE
from ragagent.core import termination
from tests.agent.backup.cli import run
from tests.agent.backup.test_backup_restore import migrated, only_backup

pytestmark = pytest.mark.db


async def test_backup_leaves_its_size_in_the_termination_message(
    db_url: str, backups: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_file = tmp_path / "termination-log"
    monkeypatch.setenv(cli_backup.TERMINATION_LOG_ENV, str(message_file))
    await migrated(db_url)
    made = run("backup", "--dir", str(backups), "--database-url", db_url)
    assert made.exit_code == 0, made.stdout
    message = json.loads(message_file.read_text())
    assert message == made.report
    backup = only_backup(backups)
    manifest = json.loads((backup / MANIFEST_FILE).read_text())
    assert message["size"] == manifest["size"] == (backup / DUMP_FILE).stat().st_size
    assert message["backup"] == str(backup)
    assert message["rows"]["conversations"] == 1


async def test_restore_leaves_its_result_in_the_termination_message(
    db_url: str,
    new_database: Callable[[], str],
    backups: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await migrated(db_url)
    assert run("backup", "--dir", str(backups), "--database-url", db_url).exit_code == 0
    message_file = tmp_path / "termination-log"
    monkeypatch.setenv(cli_backup.TERMINATION_LOG_ENV, str(message_file))
    target = new_database()
    restored = run("restore", str(only_backup(backups)), "--database-url", target)
    assert restored.exit_code == 0, restored.stdout
    assert json.loads(message_file.read_text()) == restored.report
    refused = run("restore", str(only_backup(backups)), "--database-url", target)
    assert refused.exit_code == 1
    message = json.loads(message_file.read_text())
    assert message["result"] == "failed"
    assert "not empty" in message["reason"]


def test_a_long_report_is_cut_to_a_summary_that_fits_the_kubelet_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_file = tmp_path / "termination-log"
    monkeypatch.setenv(cli_backup.TERMINATION_LOG_ENV, str(message_file))
    rows = {f"table_{i:04d}": i for i in range(400)}
    cli_backup.emit("succeeded", backup="/backups/b", size=123, rows=rows)
    written = message_file.read_text()
    assert len(written.encode()) < cli_backup.TERMINATION_MESSAGE_LIMIT
    assert json.loads(written) == {"result": "succeeded", "backup": "/backups/b", "size": 123}


def test_outside_a_container_no_termination_message_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cli_backup.TERMINATION_LOG_ENV, raising=False)
    monkeypatch.setattr(termination, "TERMINATION_LOG", tmp_path / "absent")
    cli_backup.emit("succeeded", size=1)
    assert not (tmp_path / "absent").exists()
