"""The sync result as one termination message, within the kubelet's 4096 bytes.

``ragagent sync`` prints every source's full report on stdout; the operator reads
the termination message instead (no log access, survives log rotation), so that
message must fit. It is the same reports, made shorter step by step until the
line fits: item lists cut to their first few names (with their total), messages
cut, then only the counts and the error reason. Fields at their zero
value are left out, and the operator reads a missing count as 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

# The kubelet keeps at most 4096 bytes of a termination message.
TERMINATION_MESSAGE_LIMIT = 4096
FEW = 3
SHORT = 200
# synced_at goes too: the operator falls back to the Job's completion time.
ESSENTIAL = ("source", "documents", "chunks")


def build_termination_message(reports: Sequence[BaseModel]) -> str:
    """One JSON line ``{"result": "succeeded", "sources": [...]}`` of at most the kubelet's
    limit. The result is the run's (it ran); each source says whether it synced."""
    result = "succeeded"
    dumped = [report.model_dump(exclude_defaults=True, mode="json") for report in reports]
    for shorten in (_full, _few, _counts, _essential):
        line = _line(result, [shorten(item) for item in dumped])
        if len(line.encode()) < TERMINATION_MESSAGE_LIMIT:
            return line
    return _fitting(result, [_essential(item) for item in dumped])


def _line(result: str, sources: list[dict[str, Any]], **extra: Any) -> str:
    return json.dumps({"result": result, **extra, "sources": sources}, separators=(",", ":"))


def _full(item: dict[str, Any]) -> dict[str, Any]:
    return item


def _few(item: dict[str, Any]) -> dict[str, Any]:
    """At most FEW names of each item list, with the totals; messages cut to SHORT."""
    short = dict(item)
    for key in ("unsupported", "failed"):
        if key in short:
            short[f"{key}_total"] = len(short[key])
            short[key] = short[key][:FEW]
    short["failed"] = [_cut(failure, SHORT) for failure in short.get("failed", [])]
    if "error" in short:
        short["error"] = _cut(short["error"], SHORT)
    return {k: v for k, v in short.items() if v != []}


def _counts(item: dict[str, Any]) -> dict[str, Any]:
    """No item names: the totals only, and the error's reason with a short message."""
    short = _few(item)
    for key in ("unsupported", "failed"):
        short.pop(key, None)
    if "error" in short:
        short["error"] = _cut(short["error"], 60)
    return short


def _essential(item: dict[str, Any]) -> dict[str, Any]:
    short = {key: item[key] for key in ESSENTIAL if key in item}
    if "error" in item:
        short["error"] = {"reason": item["error"]["reason"]}
    return short


def _cut(entry: dict[str, Any], limit: int) -> dict[str, Any]:
    return {**entry, "message": str(entry.get("message", ""))[:limit]}


def _fitting(result: str, items: list[dict[str, Any]]) -> str:
    """As many sources as fit, marked truncated: the status shows the others as unknown."""
    fit: list[dict[str, Any]] = []
    for item in items:
        if len(_line(result, [*fit, item], truncated=True).encode()) >= TERMINATION_MESSAGE_LIMIT:
            break
        fit.append(item)
    return _line(result, fit, truncated=True)
