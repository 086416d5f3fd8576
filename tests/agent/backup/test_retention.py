"""Which backups retention deletes: newest N kept, young ones never, stale scratch dirs go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ragagent.backup.manifest import MANIFEST_FILE, TMP_SUFFIX, build_backup_id
from ragagent.backup.retention import Entry, apply_retention, build_expired

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def daily(days: int, *, complete: bool = True) -> list[Entry]:
    return [Entry(f"b{age}", NOW - timedelta(days=age), complete) for age in range(days)]


def test_keeps_the_newest_n_and_deletes_older_ones_oldest_first() -> None:
    expired = build_expired(daily(5), keep=2, min_age=timedelta(0), now=NOW)
    assert expired == ["b4", "b3", "b2"]


def test_never_deletes_backups_younger_than_the_minimum_age() -> None:
    expired = build_expired(daily(5), keep=1, min_age=timedelta(days=3), now=NOW)
    assert expired == ["b4", "b3"]


def test_incomplete_backups_do_not_count_and_go_after_a_day() -> None:
    entries = [*daily(2), Entry("scratch-old", NOW - timedelta(days=2), False)]
    entries.append(Entry("scratch-new", NOW - timedelta(hours=1), False))
    expired = build_expired(entries, keep=2, min_age=timedelta(0), now=NOW)
    assert expired == ["scratch-old"]


def test_nothing_to_delete_when_fewer_than_n() -> None:
    assert build_expired(daily(2), keep=7, min_age=timedelta(0), now=NOW) == []


def make(directory: Path, when: datetime, *, complete: bool = True) -> str:
    name = build_backup_id(when, "0123abcd")
    path = directory / (name if complete else name + TMP_SUFFIX)
    path.mkdir(parents=True)
    if complete:
        (path / MANIFEST_FILE).write_text("{}")
    return path.name


def test_apply_retention_deletes_directories_and_leaves_other_files(tmp_path: Path) -> None:
    names = [make(tmp_path, NOW - timedelta(days=d)) for d in range(4)]
    stale = make(tmp_path, NOW - timedelta(days=3), complete=False)
    (tmp_path / "README").write_text("not a backup")
    deleted = apply_retention(tmp_path, keep=2, min_age=timedelta(0), now=NOW)
    assert sorted(deleted) == sorted([names[2], names[3], stale])
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([names[0], names[1], "README"])
