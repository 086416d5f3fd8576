"""An encrypted backup on the volume, restored with the age identity, against the real
embedded PostgreSQL, through the CLI commands as the backup and restore Jobs run them.

The restore Job names the identity by ``RAGAGENT_BACKUP_IDENTITY_FILE`` (a file mounted from
its Secret); an operator at a shell passes ``--identity-file``. Both are run here.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from pyrage import x25519

from ragagent.backup.manifest import ENCRYPTED_DUMP_FILE, MANIFEST_FILE
from tests.agent.backup import agentdata
from tests.agent.backup.cli import run
from tests.agent.backup.test_backup_restore import migrated, only_backup

pytestmark = pytest.mark.db
IDENTITY_ENV = "RAGAGENT_BACKUP_IDENTITY_FILE"


def write_key_file(path: Path) -> x25519.Identity:
    """A new age identity in ``path``, as ``age-keygen -o`` writes it."""
    identity = x25519.Identity.generate()
    path.write_text(f"# public key: {identity.to_public()}\n{identity}\n")
    return identity


def drop_conversations(url: str) -> None:
    """Lose data after the backup: every conversation and its messages."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM messages")
        conn.execute("DELETE FROM conversations")


@pytest.mark.parametrize("given_by", ["--identity-file", IDENTITY_ENV])
async def test_an_encrypted_backup_on_the_volume_restores_with_its_identity(
    db_url: str, backups: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given_by: str
) -> None:
    await migrated(db_url)
    identity = write_key_file(tmp_path / "backup.agekey")
    before = agentdata.table_digest(db_url)
    assert before["messages"][0] > 0  # the loss below must be visible
    made = run("backup", "--dir", str(backups), "--database-url", db_url,
               "--recipient", str(identity.to_public()))  # fmt: skip
    assert made.exit_code == 0, made.stdout
    directory = only_backup(backups)
    assert sorted(p.name for p in directory.iterdir()) == [ENCRYPTED_DUMP_FILE, MANIFEST_FILE]

    drop_conversations(db_url)
    assert agentdata.table_digest(db_url)["messages"][0] == 0
    key = str(tmp_path / "backup.agekey")
    if given_by == IDENTITY_ENV:
        monkeypatch.setenv(IDENTITY_ENV, key)
        identity_args: tuple[str, ...] = ()
    else:
        identity_args = ("--identity-file", key)
    restored = run("restore", str(directory), "--database-url", db_url, "--force", *identity_args)

    assert restored.exit_code == 0, restored.stdout
    assert restored.report["rows"] == {name: count for name, (count, _) in before.items()}
    assert agentdata.table_digest(db_url) == before  # row counts and contents


async def test_an_encrypted_backup_on_the_volume_is_refused_to_another_identity(
    db_url: str, backups: Path, tmp_path: Path
) -> None:
    await migrated(db_url)
    owner = write_key_file(tmp_path / "owner.agekey")
    write_key_file(tmp_path / "stranger.agekey")
    made = run("backup", "--dir", str(backups), "--database-url", db_url,
               "--recipient", str(owner.to_public()))  # fmt: skip
    assert made.exit_code == 0, made.stdout
    before = agentdata.table_digest(db_url)
    drop_conversations(db_url)
    refused = run("restore", str(only_backup(backups)), "--database-url", db_url, "--force",
                  "--identity-file", str(tmp_path / "stranger.agekey"))  # fmt: skip
    assert refused.exit_code == 1
    assert "none of the given age identities can decrypt" in refused.report["reason"]
    # Nothing was restored: the loss is still there.
    assert agentdata.table_digest(db_url)["messages"][0] == 0 < before["messages"][0]
