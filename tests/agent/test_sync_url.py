"""URL sources in a sync: conditional requests (ETag, Last-Modified) and content hashes,
so only a real change re-embeds; a real local HTTP server plays the site."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.rag import sync
from ragagent.rag.sync_items import SyncSource
from ragagent.rag.types import Embedder
from tests.agent.test_sync import FailingEmbedder, run
from tests.support import http_site

pytestmark = pytest.mark.db

LOOPBACK = {"url_fetch_allowed_networks": ["127.0.0.0/8"]}


class _Site(http_site.QuietHandler):
    """``/etag`` answers 304 to its own ETag; ``/plain`` sends no validators at all."""

    body: ClassVar[dict[str, bytes]] = {}
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server calls it by this name)
        body = self.body.get(self.path)
        etag = f'"{hash(body)}"'
        self.seen.append((self.path, self.headers.get("If-None-Match")))
        if body is None:
            self.reply(404)
            return
        if self.path == "/etag" and self.headers.get("If-None-Match") == etag:
            self.reply(304)
            return
        headers = {"Content-Type": "text/markdown"}
        if self.path == "/etag":
            headers["ETag"] = etag
        self.reply(200, body, headers)


@pytest.fixture
def site() -> Iterator[str]:
    _Site.body.clear()
    _Site.seen.clear()
    with http_site.serve(_Site) as url:
        yield url


async def sync_url(
    db: Database, embedder: Embedder, settings: Settings, url: str
) -> sync.SourceReport:
    [report] = await run(db, embedder, settings.model_copy(update=LOOPBACK), SyncSource(url))
    return report


async def test_an_unchanged_page_answers_304_and_is_not_embedded_again(
    db: Database, embedder: Embedder, pg_settings: Settings, site: str
) -> None:
    _Site.body["/etag"] = b"# Ferry\n\nThe ferry leaves at noon."
    first = await sync_url(db, embedder, pg_settings, f"{site}/etag")
    assert (first.added, first.documents) == (1, 1)
    never = FailingEmbedder(embedder, fail_at=1)  # any embedding fails the sync

    second = await sync_url(db, never, pg_settings, f"{site}/etag")

    assert (second.error, second.unchanged, second.documents, never.calls) == (None, 1, 1, 0)
    assert _Site.seen[-1] == ("/etag", f'"{hash(_Site.body["/etag"])}"')  # If-None-Match


async def test_the_same_content_without_validators_is_compared_by_hash(
    db: Database, embedder: Embedder, pg_settings: Settings, site: str
) -> None:
    _Site.body["/plain"] = b"# Ferry\n\nThe ferry leaves at noon."
    await sync_url(db, embedder, pg_settings, f"{site}/plain")
    never = FailingEmbedder(embedder, fail_at=1)
    report = await sync_url(db, never, pg_settings, f"{site}/plain")
    assert (report.error, report.unchanged, never.calls) == (None, 1, 0)


async def test_a_changed_page_is_replaced(
    db: Database, embedder: Embedder, pg_settings: Settings, site: str
) -> None:
    _Site.body["/etag"] = b"# Ferry\n\nThe ferry leaves at noon."
    await sync_url(db, embedder, pg_settings, f"{site}/etag")
    _Site.body["/etag"] = b"# Ferry\n\nThe ferry leaves at one."
    report = await sync_url(db, embedder, pg_settings, f"{site}/etag")
    assert (report.replaced, report.documents) == (1, 1)


async def test_a_page_gone_404_fails_its_source_and_keeps_the_stored_copy(
    db: Database, embedder: Embedder, pg_settings: Settings, site: str
) -> None:
    _Site.body["/etag"] = b"# Ferry\n\nThe ferry leaves at noon."
    await sync_url(db, embedder, pg_settings, f"{site}/etag")
    del _Site.body["/etag"]
    report = await sync_url(db, embedder, pg_settings, f"{site}/etag")
    assert report.error is not None
    assert (report.error.reason, report.documents) == ("FetchFailed", 1)
    assert "404" in report.error.message
