"""What a knowledge source holds now: its documents, and the items that could not be read.

A ConfigMap source is the directory its volume is mounted at; each key is one
document named ``configmap/<name>/<key>`` (a ``.jsonl`` key holds one document per
line, named ``configmap/<name>/<key>#<its external_id, else its line>``). A URL
source is one document named by its URL, fetched with the validators of the copy
already stored, so an unchanged page answers 304 and is neither downloaded nor parsed.

Items that cannot be read are reported by name and never stop the others: an
unsupported key or media type lands in ``unsupported``, an unreadable one (too
large, bad JSON) in ``failed``. Either way the stored copy of that item, if any,
is kept: it is named in ``keep`` so that pruning spares it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ragagent.core import errors, models
from ragagent.db import documents as doc_sql
from ragagent.rag import parsing, sources, url_guard

CONFIGMAP_PREFIX = "configmap/"


class ItemFailure(BaseModel):
    """One item of a source that was not synced, and why (its stored copy is kept)."""

    model_config = ConfigDict(frozen=True)

    name: str
    reason: str
    message: str


@dataclass(frozen=True)
class SyncSource:
    """A source to sync: ``name`` is ``configmap/<name>`` (with the directory its volume is
    mounted at) or an http(s) URL."""

    name: str
    directory: Path | None = None


@dataclass
class Items:
    """What a source holds now, as ``read_items`` found it."""

    inputs: list[models.DocumentInput] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)  # ids pruning must spare
    keep_prefixes: list[str] = field(default_factory=list)  # and every id starting so
    unsupported: list[str] = field(default_factory=list)
    failed: list[ItemFailure] = field(default_factory=list)
    # URL sources: the validators to store, and whether the server said "not modified".
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


def parse_source(text: str) -> SyncSource:
    """``configmap/<name>=<directory>`` or an http(s) URL; ValueError for anything else."""
    if sources.is_url(text):
        return SyncSource(text)
    name, sep, directory = text.partition("=")
    if not (name.startswith(CONFIGMAP_PREFIX) and sep and directory) or name.count("/") != 1:
        raise ValueError(f"{text!r} is neither configmap/<name>=<directory> nor an http(s) URL")
    return SyncSource(name, Path(directory))


def read_configmap(source: SyncSource, *, max_bytes: int) -> Items:
    """Every key of the mounted ConfigMap (the kubelet's private ``..*`` entries skipped)."""
    assert source.directory is not None
    if not source.directory.is_dir():
        raise errors.BadRequest(f"{source.name}: {source.directory} is not a mounted directory")
    items = Items()
    for path in sources.walk_directory(source.directory):
        if path.is_file():
            _read_key(items, source.name, path, max_bytes)
    return items


def _read_key(items: Items, name: str, path: Path, max_bytes: int) -> None:
    key = path.name
    external_id = f"{name}/{key}"
    suffix = path.suffix.lower()
    if suffix == sources.JSONL:
        items.keep_prefixes.append(f"{external_id}#")
        try:
            records = list(sources.read_jsonl(path, source=name))
        except errors.AgentError as exc:
            items.failed.append(
                ItemFailure(name=key, reason=type(exc).__name__, message=exc.detail)
            )
            return
        for line, record in enumerate(records, start=1):
            own = f"{external_id}#{record.external_id or line}"
            items.inputs.append(record.model_copy(update={"external_id": own}))
        return
    if suffix not in sources.CONTENT_TYPE_BY_SUFFIX:
        items.unsupported.append(key)
        return
    items.keep.append(external_id)
    if path.stat().st_size > max_bytes:
        message = f"{key} is larger than {max_bytes} bytes"
        items.failed.append(ItemFailure(name=key, reason="PayloadTooLarge", message=message))
        return
    items.inputs.append(_key_document(name, key, path))


def _key_document(name: str, key: str, path: Path) -> models.DocumentInput:
    content_type = sources.CONTENT_TYPE_BY_SUFFIX[path.suffix.lower()]
    fields = {
        "external_id": f"{name}/{key}",
        "source": name,
        "metadata": {"configMap": name.removeprefix(CONFIGMAP_PREFIX), "key": key},
    }
    if content_type in parsing.FILE_TYPES:
        return models.FileInput(data=path.read_bytes(), content_type=content_type, **fields)
    text = path.read_text(encoding="utf-8", errors="replace")
    return models.DocumentInput(text=text, content_type=content_type, **fields)


def read_url(
    source: SyncSource,
    stored: doc_sql.StoredHash | None,
    *,
    max_bytes: int,
    policy: url_guard.AddressPolicy,
) -> Items:
    """The URL's document; raises BadRequest when it cannot be fetched at all.

    The validators are sent only for a stored copy with a body: one without must be
    written again anyway (see ``ingest.is_changed``).
    """
    usable = stored is not None and stored.has_body
    fetched = sources.fetch_conditional(
        source.name,
        max_bytes=max_bytes,
        policy=policy,
        etag=stored.etag if usable and stored else None,
        last_modified=stored.last_modified if usable and stored else None,
    )
    items = Items(keep=[source.name], etag=fetched.etag, last_modified=fetched.last_modified)
    if fetched.body is None:
        items.not_modified = True
        return items
    try:
        items.inputs.append(sources.document_of_reply(source.name, fetched))
    except errors.UnsupportedMediaType:
        items.unsupported.append(source.name)
    return items
