"""In production, ``ragagent backup`` and ``restore`` start with the database URL alone.

They sign and verify no credential, so they need no RAGAGENT_SECRET_KEY; the server
and the API-key commands, which do, still refuse to start without a strong one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragagent.cli import app
from tests.agent.backup import agentdata
from tests.agent.backup.cli import run

pytestmark = pytest.mark.db


def enter_production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The backup pod's environment: production, a database URL and no signing secret."""
    for name in ("RAGAGENT_SECRET_KEY", "RAGAGENT_AUTH_DISABLED", "DEBUG", "RAGAGENT_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAGAGENT_ENVIRONMENT", "production")
    monkeypatch.setenv("RAGAGENT_DATA_DIR", str(tmp_path / "data"))


async def test_backup_and_restore_run_in_production_without_the_signing_secret(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    new_database: Callable[[], str],
    backups: Path,
) -> None:
    source, target = new_database(), new_database()
    db = await agentdata.open_migrated(source)
    await agentdata.add_conversation(db, "someone", 2)
    await db.close()
    enter_production(monkeypatch, tmp_path)
    monkeypatch.setenv("RAGAGENT_DATABASE_URL", source)

    made = run("backup", "--dir", str(backups), "--keep", "3")
    assert made.exit_code == 0, made.stdout
    monkeypatch.setenv("RAGAGENT_DATABASE_URL", target)
    restored = run("restore", made.report["backup"])
    assert restored.exit_code == 0, restored.stdout

    assert agentdata.table_digest(target) == agentdata.table_digest(source)


@pytest.mark.parametrize("args", [["serve"], ["apikey", "list"]], ids=["serve", "apikey"])
def test_commands_that_sign_credentials_still_need_the_secret_in_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str]
) -> None:
    enter_production(monkeypatch, tmp_path)
    monkeypatch.setenv("RAGAGENT_DATABASE_URL", "postgresql://u:p@db.invalid:5432/rag")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "RAGAGENT_SECRET_KEY must be set" in result.output
