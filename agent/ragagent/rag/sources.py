"""Turn command-line sources (files, directories, globs, JSONL, URLs) into DocumentInputs."""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ragagent.core import errors, models
from ragagent.rag import parsing, url_guard

CONTENT_TYPE_BY_SUFFIX = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
JSONL = ".jsonl"
URL_SCHEMES = ("https://", "http://")
URL_TIMEOUT_SECONDS = 30.0
MAX_REDIRECTS = 5
# A mounted ConfigMap holds its files in a kubelet-private ``..<timestamp>`` directory, with
# ``..data`` linking to it, and shows each key as a symlink through ``..data``. Walking into
# the private entries would find every key twice, under a name that changes on each update.
# Kubernetes refuses keys that start with "..", so no document is ever named that way.
ATOMIC_WRITER_PREFIX = ".."
Source = Path | str  # a local file, or a URL kept as given


def is_url(pattern: str) -> bool:
    return pattern.startswith(URL_SCHEMES)


def find_sources(patterns: list[str]) -> list[Source]:
    """Local files from ``find_files`` followed by URLs, which are fetched at ingest time."""
    urls: list[Source] = [p for p in patterns if is_url(p)]
    return [*find_files([p for p in patterns if not is_url(p)]), *dict.fromkeys(urls)]


def is_ingestible(path: Path) -> bool:
    return path.suffix.lower() in CONTENT_TYPE_BY_SUFFIX or path.suffix.lower() == JSONL


def find_files(patterns: list[str]) -> list[Path]:
    """Expand globs and directories (recursively) into ingestible files, without repeats."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        matches = [Path(m) for m in sorted(glob.glob(pattern, recursive=True))] or [Path(pattern)]
        for match in matches:
            candidates = walk_directory(match) if match.is_dir() else [match]
            for path in candidates:
                if path.is_file() and is_ingestible(path):
                    found[path] = None
    return list(found)


def walk_directory(directory: Path) -> list[Path]:
    """Everything below ``directory``, sorted, except the kubelet's private ``..*`` entries."""
    return sorted(
        path
        for path in directory.rglob("*")
        if not any(
            part.startswith(ATOMIC_WRITER_PREFIX) for part in path.relative_to(directory).parts
        )
    )


def read_inputs(
    files: list[Source],
    *,
    source: str,
    group_size: int,
    max_bytes: int = 5 * 1024 * 1024,
    policy: url_guard.AddressPolicy | None = None,
) -> Iterator[list[models.DocumentInput]]:
    """DocumentInputs in groups of ``group_size``; JSONL files yield one per line.

    URLs are fetched here, one at a time, so a large knowledge base never sits
    in memory whole; ``max_bytes`` caps each fetched body, and ``policy`` says which
    addresses they may reach (by default, none in private or cluster networks).
    """
    group: list[models.DocumentInput] = []
    for path in files:
        for doc in _documents_of(path, source, max_bytes, policy):
            group.append(doc)
            if len(group) >= group_size:
                yield group
                group = []
    if group:
        yield group


def _documents_of(
    item: Source, source: str, max_bytes: int, policy: url_guard.AddressPolicy | None
) -> Iterator[models.DocumentInput]:
    if isinstance(item, str):
        yield fetch_url(item, max_bytes=max_bytes, policy=policy)
    else:
        yield from _documents(item, source, max_bytes)


def _documents(path: Path, source: str, max_bytes: int) -> Iterator[models.DocumentInput]:
    if path.suffix.lower() == JSONL:
        yield from read_jsonl(path, source=source)
        return
    content_type = CONTENT_TYPE_BY_SUFFIX[path.suffix.lower()]
    fields = {
        "external_id": path.as_posix(),
        "source": source,
        "metadata": {"path": path.as_posix()},
    }
    if content_type in parsing.FILE_TYPES:
        # Checked before reading: a file is read whole, and ingestion would refuse it anyway.
        if path.stat().st_size > max_bytes:
            raise errors.PayloadTooLarge(f"{path} is larger than {max_bytes} bytes")
        yield models.FileInput(data=path.read_bytes(), content_type=content_type, **fields)
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    yield models.DocumentInput(text=text, content_type=content_type, **fields)


def read_jsonl(path: Path, *, source: str) -> Iterator[models.DocumentInput]:
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


def _from_record(record: dict[str, Any], source: str) -> models.DocumentInput:
    metadata = record.get("metadata")
    return models.DocumentInput(
        text=record["text"],
        content_type=str(record.get("content_type") or "text/plain"),
        external_id=str(record["external_id"]) if record.get("external_id") is not None else None,
        title=str(record["title"]) if record.get("title") else None,
        source=str(record.get("source") or source),
        metadata=metadata if isinstance(metadata, dict) else {},
    )


@dataclass(frozen=True)
class Fetched:
    """A URL's reply: its body (None for 304 Not Modified), media type and validators."""

    body: bytes | None
    media_type: str
    etag: str | None = None
    last_modified: str | None = None


def fetch_url(
    url: str, *, max_bytes: int, policy: url_guard.AddressPolicy | None = None
) -> models.DocumentInput:
    """One document from a URL; any failure is a BadRequest naming the URL, not a traceback.

    Redirects are followed by hand, at most MAX_REDIRECTS, each target checked against
    ``policy`` (the default one blocks private, loopback, link-local and cluster ranges).
    """
    fetched = fetch_conditional(url, max_bytes=max_bytes, policy=policy)
    assert fetched.body is not None  # without validators there is no 304
    return document_of_reply(url, fetched)


def fetch_conditional(
    url: str,
    *,
    max_bytes: int,
    policy: url_guard.AddressPolicy | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """Fetch ``url``, sending the validators of the copy we hold; a 304 has no body."""
    policy = policy or url_guard.AddressPolicy()
    headers = {"If-None-Match": etag} if etag else {}
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with httpx.Client(timeout=URL_TIMEOUT_SECONDS, follow_redirects=False) as client:
            return _fetch(client, httpx.URL(url), max_bytes, policy, headers)
    except httpx.HTTPError as exc:
        raise errors.BadRequest(f"could not fetch {url}: {exc}") from None


def document_of_reply(url: str, fetched: Fetched) -> models.DocumentInput:
    """The document a fetched URL holds; raises UnsupportedMediaType for other types."""
    content_type = _url_content_type(fetched.media_type, url)
    body = fetched.body or b""
    fields = {"external_id": url, "source": "url", "metadata": {"url": url}}
    if content_type in parsing.FILE_TYPES:
        return models.FileInput(data=body, content_type=content_type, **fields)
    text = body.decode("utf-8", errors="replace")
    return models.DocumentInput(text=text, content_type=content_type, **fields)


def _fetch(
    client: httpx.Client,
    url: httpx.URL,
    max_bytes: int,
    policy: url_guard.AddressPolicy,
    headers: dict[str, str],
) -> Fetched:
    """The reply at ``url``, after at most MAX_REDIRECTS allowed redirects."""
    for _ in range(MAX_REDIRECTS + 1):
        url_guard.check_url(url, policy)
        with client.stream("GET", url, headers=headers) as reply:
            url_guard.check_peer(reply, policy)
            etag, modified = reply.headers.get("etag"), reply.headers.get("last-modified")
            # Before the redirect check: httpx counts 304 among redirects (it has no Location).
            if reply.status_code == httpx.codes.NOT_MODIFIED:
                return Fetched(None, "", etag, modified)
            if reply.is_redirect:
                url = reply.url.join(reply.headers["location"])
                continue
            reply.raise_for_status()
            media_type = reply.headers.get("content-type", "").split(";")[0].strip().lower()
            return Fetched(_read_capped(reply, str(url), max_bytes), media_type, etag, modified)
    raise errors.BadRequest(f"could not fetch {url}: more than {MAX_REDIRECTS} redirects")


def _read_capped(reply: httpx.Response, url: str, max_bytes: int) -> bytes:
    body = bytearray()
    for piece in reply.iter_bytes():
        body.extend(piece)
        if len(body) > max_bytes:
            raise errors.PayloadTooLarge(f"{url} is larger than {max_bytes} bytes")
    return bytes(body)


def _url_content_type(media_type: str, url: str) -> str:
    """The server's media type when we support it, else a guess from the URL's suffix."""
    if media_type in CONTENT_TYPE_BY_SUFFIX.values():
        return media_type
    suffix = Path(httpx.URL(url).path).suffix.lower()
    if suffix in CONTENT_TYPE_BY_SUFFIX:
        return CONTENT_TYPE_BY_SUFFIX[suffix]
    raise errors.UnsupportedMediaType(f"{url} is {media_type or 'of unknown type'}")
