"""The pure pieces of encrypted, off-cluster backups: keys, manifest fields, bucket
settings and bucket retention (no database, no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyrage import x25519

from ragagent.backup import crypt
from ragagent.backup.errors import BackupError, CorruptBackupError
from ragagent.backup.manifest import ENCRYPTED_DUMP_FILE, Manifest
from ragagent.backup.remote import build_bucket, build_remote_expired
from ragagent.backup.retention import Entry
from tests.agent.backup.test_manifest import write_backup

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def test_recipients_are_parsed_with_comments_and_blank_lines() -> None:
    keys = [x25519.Identity.generate().to_public() for _ in range(2)]
    text = f"# ops team\n{keys[0]}\n\n  {keys[1]}  \n"
    assert [str(r) for r in crypt.parse_recipients(text)] == [str(k) for k in keys]


def test_a_private_identity_given_as_recipient_is_refused_without_echoing_it() -> None:
    secret = str(x25519.Identity.generate())
    with pytest.raises(BackupError, match="private identity, not a public key") as caught:
        crypt.parse_recipients(secret)
    assert secret not in str(caught.value)


def test_a_malformed_recipient_and_an_empty_list_are_named() -> None:
    with pytest.raises(BackupError, match="recipient 2 is not an age public key"):
        crypt.parse_recipients(f"{x25519.Identity.generate().to_public()}\nage1nope")
    with pytest.raises(BackupError, match="recipients list is empty"):
        crypt.parse_recipients("# nobody\n")


def test_a_malformed_identity_is_named_without_its_text() -> None:
    with pytest.raises(BackupError, match="identity 1 is not an age private key") as caught:
        crypt.parse_identities("AGE-SECRET-KEY-1NOTAKEY")
    assert "NOTAKEY" not in str(caught.value)


def test_encrypt_then_decrypt_round_trips_and_another_key_is_refused(tmp_path: Path) -> None:
    owner, stranger = x25519.Identity.generate(), x25519.Identity.generate()
    plain, sealed, back = tmp_path / "p", tmp_path / "p.age", tmp_path / "back"
    plain.write_bytes(b"PGDMP canary " * 1000)
    crypt.encrypt_file(plain, sealed, [owner.to_public()])
    assert b"canary" not in sealed.read_bytes()
    crypt.decrypt_file(sealed, back, [owner])
    assert back.read_bytes() == plain.read_bytes()
    assert back.stat().st_mode & 0o077 == 0
    with pytest.raises(BackupError, match="none of the given age identities"):
        crypt.decrypt_file(sealed, tmp_path / "other", [stranger])
    assert not (tmp_path / "other").exists()


def test_an_altered_ciphertext_is_a_corrupt_backup(tmp_path: Path) -> None:
    owner = x25519.Identity.generate()
    plain, sealed = tmp_path / "p", tmp_path / "p.age"
    plain.write_bytes(b"x" * 200_000)
    crypt.encrypt_file(plain, sealed, [owner.to_public()])
    data = bytearray(sealed.read_bytes())
    data[len(data) // 2] ^= 1
    sealed.write_bytes(bytes(data))
    with pytest.raises(CorruptBackupError, match="damaged or altered"):
        crypt.decrypt_file(sealed, tmp_path / "back", [owner])


def test_a_manifest_naming_a_path_or_mismatching_its_encryption_is_corrupt(
    tmp_path: Path,
) -> None:
    good = write_backup(tmp_path / "20250310T020000.123Z-1a2b3c4d", b"dump").to_json()
    for change in ('"dump_file": "../../etc/passwd"', f'"dump_file": "{ENCRYPTED_DUMP_FILE}"'):
        text = good.replace('"dump_file": "dump.pgc"', change)
        with pytest.raises(CorruptBackupError):
            Manifest.from_json(text)


def test_bucket_settings_are_checked_and_the_secret_never_shows() -> None:
    bucket = build_bucket(
        endpoint="https://s3.example.com:9000",
        name="backups",
        prefix="/team/ragagent/",
        access_key="id",
        secret_key="sekrit-value",
    )
    assert (bucket.host, bucket.secure, bucket.prefix) == (
        "s3.example.com:9000",
        True,
        "team/ragagent",
    )
    assert bucket.key("X", "manifest.json") == "team/ragagent/X/manifest.json"
    assert "sekrit-value" not in repr(bucket)
    bad: list[tuple[dict[str, str | None], str]] = [
        ({"endpoint": "s3.example.com"}, "http\\(s\\) URL"),
        ({"endpoint": "https://s3.example.com/bucket"}, "scheme://host"),
        ({"prefix": "a/../b c"}, "may hold only"),
        ({"secret_key": None}, "credentials are missing"),
        ({"name": "Backups_1"}, "not an S3 bucket name"),
    ]
    for change, message in bad:
        args: dict[str, str | None] = {
            "endpoint": "https://s3.example.com",
            "name": "backups",
            "prefix": "",
            "access_key": "id",
            "secret_key": "sekrit-value",
        }
        args.update(change)
        with pytest.raises(BackupError, match=message) as caught:
            build_bucket(**args)  # type: ignore[arg-type]
        assert "sekrit-value" not in str(caught.value)


def entry(name: str, days_ago: float, *, complete: bool = True) -> Entry:
    return Entry(name, NOW - timedelta(days=days_ago), complete)


def test_bucket_retention_keeps_the_newest_n() -> None:
    entries = [entry(f"b{i}", i) for i in range(5)]
    assert build_remote_expired(entries, keep=3, max_age=None, now=NOW) == ["b4", "b3"]


def test_bucket_retention_drops_copies_past_max_age_but_never_the_newest() -> None:
    entries = [entry("new", 1), entry("old", 40), entry("older", 50)]
    expired = build_remote_expired(entries, keep=10, max_age=timedelta(days=30), now=NOW)
    assert expired == ["older", "old"]
    lone = [entry("ancient", 400)]
    assert build_remote_expired(lone, keep=10, max_age=timedelta(days=30), now=NOW) == []


def test_bucket_retention_removes_broken_uploads_after_a_day_only() -> None:
    entries = [entry("full", 0.1), entry("broken", 2, complete=False)]
    entries.append(entry("uploading", 0.01, complete=False))
    assert build_remote_expired(entries, keep=5, max_age=None, now=NOW) == ["broken"]
