"""The test API server's audit log: who wrote which object, read from a byte offset on.

The control plane's policy (``components.build_audit_policy``) records each write request once,
at Metadata level, when its response is complete: one JSON object per line; and the reads of
one namespace's ServiceAccounts (READS_AUDITED_NAMESPACE). Unlike the API
server's request counters, each record names the user, so a test can count one client's writes
without blaming it for another's (the sealed-secrets controller unsealing, the controller
manager's token Secrets, the namespace controller cleaning up).

A window is two calls: ``offset()`` before it, ``read_writes(path, since)`` after it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

# The audit verbs of requests that change objects, with the HTTP method each arrives as.
# A server-side apply is a PATCH, so its verb is "patch" even when it creates the object.
WRITE_METHODS = {
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}
WRITE_VERBS = frozenset(WRITE_METHODS)
READ_VERBS = frozenset({"get", "list", "watch"})
# Reads are recorded for the ServiceAccounts of this namespace only (reads are far more
# numerous than writes): the permission test runs its operator there, so the read grants it
# keeps are each shown by a request.
READS_AUDITED_NAMESPACE = "audited-reads"
# Only the last stage counts: with RequestReceived logged too, each request would be two lines.
COMPLETE = "ResponseComplete"
# A watch still open when the log is read has only this stage so far.
STARTED = "ResponseStarted"
TAIL_BYTES = 1 << 16  # far longer than one Metadata-level line (about 1 KiB)


class AuditLogRotatedError(RuntimeError):
    """The log is shorter than an offset taken from it: it was rotated or replaced, so the
    writes since that offset can no longer be counted."""


@dataclasses.dataclass(frozen=True)
class Write:
    """One completed write request as the audit log records it."""

    user: str
    verb: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    code: int = 0

    @property
    def method(self) -> str:
        """The HTTP method, as a client counts its own requests."""
        return WRITE_METHODS[self.verb]


def parse_write(line: str) -> Write | None:
    """The write one log line records. None for a blank line, a read, an earlier stage, or a
    request on no object (a non-resource URL has no objectRef). Raises ValueError on a line
    that is not JSON."""
    return _parse(line, WRITE_VERBS, (COMPLETE,))


def parse_read(line: str) -> Write | None:
    """The read (get, list, watch) one log line records, as a ``Write`` of a read verb: its
    completion, or the start of a watch. None for anything else, as ``parse_write``."""
    return _parse(line, READ_VERBS, (STARTED, COMPLETE))


def _parse(line: str, verbs: Collection[str], stages: Collection[str]) -> Write | None:
    if not line.strip():
        return None
    event: dict[str, Any] = json.loads(line)
    ref = event.get("objectRef")
    if event.get("stage") not in stages or event.get("verb") not in verbs or not ref:
        return None
    return Write(
        user=str(event["user"].get("username", "")),
        verb=str(event["verb"]),
        resource=str(ref.get("resource", "")),
        subresource=str(ref.get("subresource", "")),
        namespace=str(ref.get("namespace", "")),
        name=str(ref.get("name", "")),
        code=int((event.get("responseStatus") or {}).get("code", 0)),
    )


def parse_writes(lines: Iterable[str]) -> list[Write]:
    return [write for line in lines if (write := parse_write(line)) is not None]


def by_user(writes: Iterable[Write], user: str) -> list[Write]:
    return [write for write in writes if write.user == user]


def object_writes(writes: Iterable[Write], *, user: str, resources: Collection[str]) -> list[Write]:
    """``user``'s writes to whole objects of ``resources`` (plural names). Subresources such as
    status and scale are left out: they are not the object's spec. Refused writes (a 403 or a
    409) stay in: the attempt is the client's decision to write."""
    return [
        write
        for write in by_user(writes, user)
        if write.resource in resources and not write.subresource
    ]


def tally(writes: Iterable[Write]) -> dict[str, int]:
    """Counts by "verb resource[/subresource]", e.g. ``{"patch deployments": 2}``."""
    counts: dict[str, int] = {}
    for write in writes:
        sub = f"/{write.subresource}" if write.subresource else ""
        key = f"{write.verb} {write.resource}{sub}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def by_method(writes: Iterable[Write]) -> dict[str, int]:
    """Counts by HTTP method, to set beside a client's own request counter."""
    counts: dict[str, int] = {}
    for write in writes:
        counts[write.method] = counts.get(write.method, 0) + 1
    return counts


# --- reading the file ---------------------------------------------------------------------


def offset(path: Path) -> int:
    """Where the log's complete lines end now; 0 when there is no log yet. A line the API
    server is still writing belongs after the offset, so no window starts mid-line."""
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            start = max(0, size - TAIL_BYTES)
            log.seek(start)
            tail = log.read(size - start)
    except FileNotFoundError:
        return 0
    return start + tail.rfind(b"\n") + 1


def read_writes(path: Path, since: int) -> list[Write]:
    """The writes logged after byte ``since`` (from ``offset``), up to the last complete line.

    Raises AuditLogRotatedError when the log is now shorter than ``since``."""
    return parse_writes(_lines_since(path, since))


def read_reads(path: Path, since: int) -> list[Write]:
    """The reads logged after byte ``since`` (of READS_AUDITED_NAMESPACE's ServiceAccounts
    only: the policy records no other reads), as ``read_writes``."""
    return [read for line in _lines_since(path, since) if (read := parse_read(line)) is not None]


def _lines_since(path: Path, since: int) -> list[str]:
    with path.open("rb") as log:
        size = log.seek(0, os.SEEK_END)
        if size < since:
            raise AuditLogRotatedError(f"{path} is {size} bytes, shorter than offset {since}")
        log.seek(since)
        data = log.read(size - since)
    complete = data[: data.rfind(b"\n") + 1]
    return complete.decode().splitlines()
