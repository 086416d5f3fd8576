"""Encrypted backups copied to a real S3-compatible server (SeaweedFS) and restored from it,
against the real embedded PostgreSQL, through the CLI commands as the Jobs run them."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from pyrage import x25519

from ragagent.backup import cli_options, crypt
from ragagent.backup.manifest import ENCRYPTED_DUMP_FILE, MANIFEST_FILE
from tests.agent.backup import agentdata
from tests.agent.backup.cli import Outcome, run
from tests.agent.backup.test_backup_restore import drop_database, migrated, only_backup
from tests.support.seaweedfs import REGION, S3Server

pytestmark = pytest.mark.db

CANARY = "canary_7f3a_lighthouse_keeper"  # a table name: in the dump's plain table of contents
ROW_TEXT = "the keeper's private log, entry 7f3a"


@pytest.fixture
def owner(tmp_path: Path) -> tuple[x25519.Identity, Path]:
    """An age identity and its key file, as `age-keygen -o` writes it."""
    identity = x25519.Identity.generate()
    path = tmp_path / "backup.agekey"
    path.write_text(f"# public key: {identity.to_public()}\n{identity}\n")
    return identity, path


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket, and the Job's environment that points the commands at it."""
    name = s3_server.new_bucket()
    settings = {
        "RAGAGENT_BACKUP_S3_ENDPOINT": s3_server.endpoint,
        "RAGAGENT_BACKUP_S3_BUCKET": name,
        "RAGAGENT_BACKUP_S3_PREFIX": "prod/ragagent",
        "RAGAGENT_BACKUP_S3_REGION": REGION,
        cli_options.ACCESS_KEY_ENV: s3_server.access_key,
        cli_options.SECRET_KEY_ENV: s3_server.secret_key,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return name


@dataclass(frozen=True)
class BucketScene:
    """A database, the backup volume, the bucket the Job copies to and the owner's age key."""

    db_url: str
    backups: Path
    bucket: str
    s3: S3Server
    identity: x25519.Identity
    key_file: Path

    def backup(self, *args: str) -> Outcome:
        """``ragagent backup`` to the volume, encrypted to the owner, as the Job runs it."""
        made = run(
            "backup", "--dir", str(self.backups), "--database-url", self.db_url,
            "--recipient", str(self.identity.to_public()), *args,
        )  # fmt: skip
        assert made.exit_code == 0, made.stdout
        return made

    def stored(self) -> dict[str, bytes]:
        """Every object in the bucket, by key."""
        return self.s3.object_bytes(self.bucket)


@pytest.fixture
def scene(
    db_url: str,
    backups: Path,
    bucket: str,
    s3_server: S3Server,
    owner: tuple[x25519.Identity, Path],
) -> BucketScene:
    return BucketScene(db_url, backups, bucket, s3_server, *owner)


async def with_canary(url: str) -> None:
    """Agent tables plus a table whose name and row hold a text to look for in the bytes."""
    await migrated(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {CANARY} (note text)")
        conn.execute(f"INSERT INTO {CANARY} VALUES (%s)", (ROW_TEXT,))


def names_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def restore_from_bucket(backup_id: str, key_file: Path, url: str) -> Outcome:
    """``ragagent restore`` of ``backup_id`` from the bucket into ``url``, as the Job runs it."""
    return run("restore", backup_id, "--from-bucket", "--identity-file", str(key_file),
               "--database-url", url)  # fmt: skip


async def test_encrypted_copy_in_the_bucket_restores_after_the_volume_is_lost(
    scene: BucketScene,
) -> None:
    await with_canary(scene.db_url)
    before = agentdata.table_digest(scene.db_url)
    made = scene.backup()
    backup_id = only_backup(scene.backups).name
    assert made.report["encryption"] == "age"
    assert sorted(p.name for p in only_backup(scene.backups).iterdir()) == [
        ENCRYPTED_DUMP_FILE, MANIFEST_FILE,
    ]  # fmt: skip
    stored = scene.stored()
    dump_key = f"prod/ragagent/{backup_id}/{ENCRYPTED_DUMP_FILE}"
    assert sorted(stored) == [dump_key, f"prod/ragagent/{backup_id}/{MANIFEST_FILE}"]
    assert made.report["uploaded"] == [dump_key, f"prod/ragagent/{backup_id}/{MANIFEST_FILE}"]
    # The manifest names tables and holds counts and hashes (documented); no row text anywhere.
    for content in stored.values():
        assert ROW_TEXT.encode() not in content
    assert CANARY.encode() not in stored[dump_key]
    assert not stored[dump_key].startswith(b"PGDMP")
    # The check means something: the same object, decrypted, names the canary table.
    sealed, plain = scene.backups.parent / "sealed", scene.backups.parent / "plain"
    sealed.write_bytes(stored[dump_key])
    crypt.decrypt_file(sealed, plain, [scene.identity])
    assert plain.read_bytes().startswith(b"PGDMP")
    assert CANARY.encode() in plain.read_bytes()

    shutil.rmtree(scene.backups)
    drop_database(scene.db_url)
    restored = restore_from_bucket(backup_id, scene.key_file, scene.db_url)
    assert restored.exit_code == 0, restored.stdout
    assert agentdata.table_digest(scene.db_url) == before
    with psycopg.connect(scene.db_url) as conn:
        assert conn.execute(f"SELECT note FROM {CANARY}").fetchall() == [(ROW_TEXT,)]


async def test_a_wrong_or_missing_identity_is_a_clear_error(
    scene: BucketScene, tmp_path: Path
) -> None:
    await migrated(scene.db_url)
    scene.backup()
    backup_id = only_backup(scene.backups).name
    stranger = tmp_path / "stranger.agekey"
    stranger.write_text(f"{x25519.Identity.generate()}\n")
    target = scene.db_url.rsplit("/", 1)[0] + "/restored_" + backup_id[-8:]
    wrong = restore_from_bucket(backup_id, stranger, target)
    assert wrong.exit_code == 1
    assert "none of the given age identities can decrypt" in wrong.report["reason"]
    missing = run("restore", str(only_backup(scene.backups)), "--database-url", target)
    assert missing.exit_code == 1
    assert "is encrypted (age)" in missing.report["reason"]


async def test_a_tampered_object_fails_verification_before_any_restore(scene: BucketScene) -> None:
    await migrated(scene.db_url)
    scene.backup()
    backup_id = only_backup(scene.backups).name
    key = f"prod/ragagent/{backup_id}/{ENCRYPTED_DUMP_FILE}"
    data = bytearray(scene.stored()[key])
    data[len(data) // 2] ^= 0x01
    tampered = scene.backups.parent / "tampered"
    tampered.write_bytes(bytes(data))
    scene.s3.client().fput_object(scene.bucket, key, str(tampered))
    drop_database(scene.db_url)
    outcome = restore_from_bucket(backup_id, scene.key_file, scene.db_url)
    assert outcome.exit_code == 1
    assert f"{ENCRYPTED_DUMP_FILE} fails its sha256 checksum" in outcome.report["reason"]


async def test_the_bucket_keeps_its_own_number_of_copies(scene: BucketScene) -> None:
    await migrated(scene.db_url)
    reports = [scene.backup("--keep", "1", "--s3-keep", "2").report for _ in range(3)]
    ids = sorted({key.split("/")[2] for key in scene.stored()})
    made = [Path(report["backup"]).name for report in reports]
    assert ids == made[1:]
    assert reports[2]["deleted_from_bucket"] == [made[0]]
    assert names_in(scene.backups) == [made[2]]


async def test_encryption_required_without_a_recipient_writes_nothing(
    db_url: str, backups: Path
) -> None:
    await migrated(db_url)
    refused = run("backup", "--dir", str(backups), "--database-url", db_url,
                  "--require-encryption")  # fmt: skip
    assert refused.exit_code == 1
    assert "encryption is required but no age recipient" in refused.report["reason"]
    assert names_in(backups) == []


async def test_an_unreachable_bucket_fails_the_backup_without_leaking_its_secret(
    db_url: str, backups: Path, owner: tuple[x25519.Identity, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrated(db_url)
    monkeypatch.setenv(cli_options.ACCESS_KEY_ENV, "id")
    monkeypatch.setenv(cli_options.SECRET_KEY_ENV, "do-not-print-me")
    failed = run(
        "backup", "--dir", str(backups), "--database-url", db_url, "--recipient",
        str(owner[0].to_public()), "--s3-endpoint", "http://127.0.0.1:9", "--s3-bucket", "backups",
    )  # fmt: skip
    assert failed.exit_code == 1
    assert failed.report["reason"].startswith("object storage upload failed")
    assert "do-not-print-me" not in failed.stdout
    assert json.loads(only_backup(backups).joinpath(MANIFEST_FILE).read_text())["encryption"]
