"""Turn command-line paths (files, directories, globs, JSONL) into DocumentInputs."""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragagent.core import errors
from ragagent.rag.ingest import DocumentInput

CONTENT_TYPE_BY_SUFFIX = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
}
JSONL = ".jsonl"


def is_ingestible(path: Path) -> bool:
    return path.suffix.lower() in CONTENT_TYPE_BY_SUFFIX or path.suffix.lower() == JSONL


def find_files(patterns: list[str]) -> list[Path]:
    """Expand globs and directories (recursively) into ingestible files, without repeats."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        matches = [Path(m) for m in sorted(glob.glob(pattern, recursive=True))] or [Path(pattern)]
        for match in matches:
            candidates = sorted(match.rglob("*")) if match.is_dir() else [match]
            for path in candidates:
                if path.is_file() and is_ingestible(path):
                    found[path] = None
    return list(found)


def build_inputs(
    files: list[Path], *, source: str, group_size: int
) -> Iterator[list[DocumentInput]]:
    """DocumentInputs in groups of ``group_size``; JSONL files yield one per line."""
    group: list[DocumentInput] = []
    for path in files:
        for doc in _documents(path, source):
            group.append(doc)
            if len(group) >= group_size:
                yield group
                group = []
    if group:
        yield group


def _documents(path: Path, source: str) -> Iterator[DocumentInput]:
    if path.suffix.lower() == JSONL:
        yield from read_jsonl(path, source=source)
        return
    yield DocumentInput(
        text=path.read_text(encoding="utf-8", errors="replace"),
        content_type=CONTENT_TYPE_BY_SUFFIX[path.suffix.lower()],
        external_id=path.as_posix(),
        source=source,
        metadata={"path": path.as_posix()},
    )


def read_jsonl(path: Path, *, source: str) -> Iterator[DocumentInput]:
    """One ``{external_id, title, text, metadata}`` object per line; blank lines are skipped."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield _from_record(_parse_line(line, path, number), source)


def _parse_line(line: str, path: Path, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        raise errors.ValidationFailed(f"{path}:{number}: not valid JSON") from None
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise errors.ValidationFailed(f"{path}:{number}: expected an object with a 'text' string")
    return record


def _from_record(record: dict[str, Any], source: str) -> DocumentInput:
    metadata = record.get("metadata")
    return DocumentInput(
        text=record["text"],
        content_type=str(record.get("content_type") or "text/plain"),
        external_id=str(record["external_id"]) if record.get("external_id") is not None else None,
        title=str(record["title"]) if record.get("title") else None,
        source=str(record.get("source") or source),
        metadata=metadata if isinstance(metadata, dict) else {},
    )
