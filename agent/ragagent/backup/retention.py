"""Which old backups to delete: keep the newest N, never anything younger than a minimum age.

``build_expired`` is pure (names and times in, names out) so the rules are easy
to test; ``apply_retention`` lists the directory and deletes. Only complete
backups (with a manifest) count toward N. Leftover ``.tmp`` directories from a
crashed run are removed once they are older than a day, which no live backup
can be.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ragagent.backup.manifest import MANIFEST_FILE, TMP_SUFFIX, parse_backup_time

log = logging.getLogger(__name__)

STALE_TMP_AGE = timedelta(days=1)


@dataclass(frozen=True)
class Entry:
    name: str
    created: datetime
    complete: bool


def build_expired(
    entries: list[Entry], *, keep: int, min_age: timedelta, now: datetime
) -> list[str]:
    """Names to delete, oldest first.

    Complete backups beyond the newest ``keep`` go once older than ``min_age``;
    incomplete ones once older than :data:`STALE_TMP_AGE`.
    """
    complete = sorted((e for e in entries if e.complete), key=lambda e: e.created, reverse=True)
    doomed = [e for e in complete[keep:] if now - e.created >= min_age]
    doomed += [e for e in entries if not e.complete and now - e.created >= STALE_TMP_AGE]
    return [e.name for e in sorted(doomed, key=lambda e: e.created)]


def list_entries(directory: Path) -> list[Entry]:
    """Backup directories under ``directory``; anything else there is left alone."""
    found = []
    for path in directory.iterdir() if directory.is_dir() else []:
        created = parse_backup_time(path.name)
        if created is None or not path.is_dir():
            continue
        complete = not path.name.endswith(TMP_SUFFIX) and (path / MANIFEST_FILE).is_file()
        found.append(Entry(path.name, created, complete))
    return found


def apply_retention(
    directory: Path, *, keep: int, min_age: timedelta, now: datetime | None = None
) -> list[str]:
    """Delete expired backups under ``directory``; returns the names deleted."""
    moment = now or datetime.now(UTC)
    names = build_expired(list_entries(directory), keep=keep, min_age=min_age, now=moment)
    for name in names:
        shutil.rmtree(directory / name)
        log.info("retention deleted backup %s", name)
    return names
