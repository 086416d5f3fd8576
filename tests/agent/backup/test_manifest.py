"""The manifest and its integrity checks (files only, no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ragagent.backup.errors import CorruptBackupError
from ragagent.backup.manifest import (
    DUMP_FILE,
    MANIFEST_FILE,
    Manifest,
    build_backup_id,
    parse_backup_time,
    sha256_file,
    verify_backup,
)


def write_backup(directory: Path, payload: bytes) -> Manifest:
    directory.mkdir()
    (directory / DUMP_FILE).write_bytes(payload)
    manifest = Manifest(
        id=directory.name,
        created_at="2025-03-10T02:00:00+00:00",
        database="ragagent",
        server_version="18.4",
        schema_version="0003",
        embedding_model="all-MiniLM-L6-v2",
        embedding_dimension=384,
        size=len(payload),
        sha256=sha256_file(directory / DUMP_FILE),
        rows={"documents": 2},
        checksums={"documents": "abc"},
    )
    (directory / MANIFEST_FILE).write_text(manifest.to_json())
    return manifest


def test_backup_id_sorts_by_time_and_round_trips() -> None:
    early = build_backup_id(datetime(2025, 3, 10, 2, 0, 0, 5000, tzinfo=UTC), "0000ffff")
    late = build_backup_id(datetime(2025, 3, 10, 2, 0, 0, 7000, tzinfo=UTC), "00000000")
    assert early == "20250310T020000.005Z-0000ffff"
    assert early < late
    assert parse_backup_time(late) == datetime(2025, 3, 10, 2, 0, 0, 7000, tzinfo=UTC)
    assert parse_backup_time(late + ".tmp") == parse_backup_time(late)
    assert parse_backup_time("lost+found") is None


def test_intact_backup_verifies(tmp_path: Path) -> None:
    written = write_backup(tmp_path / "b", b"PGDMP" + bytes(range(256)) * 10)
    assert verify_backup(tmp_path / "b") == written


def test_manifest_json_round_trips(tmp_path: Path) -> None:
    written = write_backup(tmp_path / "b", b"PGDMP")
    assert Manifest.from_json(written.to_json()) == written


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", json.dumps({"id": "x"}), json.dumps({"format": "other/9"})],
)
def test_malformed_manifest_is_refused(tmp_path: Path, text: str) -> None:
    write_backup(tmp_path / "b", b"PGDMP")
    (tmp_path / "b" / MANIFEST_FILE).write_text(text)
    with pytest.raises(CorruptBackupError):
        verify_backup(tmp_path / "b")


def test_other_format_version_is_named(tmp_path: Path) -> None:
    manifest = write_backup(tmp_path / "b", b"PGDMP")
    data = json.loads(manifest.to_json()) | {"format": "ragagent-backup/9"}
    (tmp_path / "b" / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(CorruptBackupError, match="unsupported backup format"):
        verify_backup(tmp_path / "b")


def test_truncated_dump_is_refused_with_sizes(tmp_path: Path) -> None:
    write_backup(tmp_path / "b", b"x" * 100)
    (tmp_path / "b" / DUMP_FILE).write_bytes(b"x" * 60)
    with pytest.raises(CorruptBackupError, match="60 bytes but the manifest says 100"):
        verify_backup(tmp_path / "b")


def test_changed_byte_fails_the_checksum(tmp_path: Path) -> None:
    write_backup(tmp_path / "b", b"x" * 100)
    (tmp_path / "b" / DUMP_FILE).write_bytes(b"x" * 99 + b"y")
    with pytest.raises(CorruptBackupError, match="sha256"):
        verify_backup(tmp_path / "b")


def test_missing_dump_is_refused(tmp_path: Path) -> None:
    write_backup(tmp_path / "b", b"x")
    (tmp_path / "b" / DUMP_FILE).unlink()
    with pytest.raises(CorruptBackupError, match="missing"):
        verify_backup(tmp_path / "b")
