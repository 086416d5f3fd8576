"""URL sources reach no private, loopback, link-local or cluster address, not even by redirect.

Real HTTP servers on loopback: a site on 127.0.0.2 (the only address these tests allow)
that redirects wherever it is asked, and an "internal" service on 127.0.0.1 that must
never be read. The default policy allows neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from ragagent.core import errors
from ragagent.core.config import Settings
from ragagent.rag import sources, url_guard
from tests.support import http_site

SITE_ONLY = url_guard.AddressPolicy.of(
    blocked=Settings().url_fetch_blocked_networks, allowed=["127.0.0.2/32"]
)
SECRET = b"internal: do not fetch"


class Handler(http_site.QuietHandler):
    """``/to?url=X`` redirects to X, ``/loop`` to itself; other paths answer a Markdown page,
    the secret one on the internal service (whatever name the request used to reach it)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server calls it by this name)
        parts = urlsplit(self.path)
        if parts.path in ("/to", "/loop"):
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query).get("url", ["/loop"])[0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        internal = self.connection.getsockname()[0] == "127.0.0.1"
        body = SECRET if internal else b"# Page\n\nTea."
        self.send_response(200)
        self.send_header("Content-Type", "text/markdown")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def site() -> Iterator[str]:
    with http_site.serve(Handler, "127.0.0.2") as url:
        yield url


@pytest.fixture
def internal() -> Iterator[str]:
    with http_site.serve(Handler, "127.0.0.1") as url:
        yield url


def test_an_allowed_site_is_fetched_through_its_own_redirects(site: str) -> None:
    doc = sources.fetch_url(f"{site}/to?url=/page.md", max_bytes=1024, policy=SITE_ONLY)
    assert doc.text == "# Page\n\nTea."


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.0.0.7/", "10.0.0.7"),
        ("http://[::1]/", "::1"),
        ("http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254"),
    ],
)
def test_a_redirect_into_a_blocked_network_is_refused(site: str, target: str, address: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        sources.fetch_url(f"{site}/to?url={target}", max_bytes=1024, policy=SITE_ONLY)
    assert f"is {address}, in a blocked network" in caught.value.detail
    assert caught.value.status_code == 400


def test_a_redirect_to_a_loopback_service_is_refused_before_reading_it(
    site: str, internal: str
) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        sources.fetch_url(f"{site}/to?url={internal}/secret", max_bytes=1024, policy=SITE_ONLY)
    assert "is 127.0.0.1, in a blocked network (RAGAGENT_URL_FETCH_BLOCKED_NETWORKS)" in (
        caught.value.detail
    )
    assert SECRET.decode() not in caught.value.detail


def test_the_default_policy_refuses_loopback_urls(internal: str) -> None:
    with pytest.raises(errors.BadRequest, match="in a blocked network"):
        sources.fetch_url(f"{internal}/page.md", max_bytes=1024)


def test_a_redirect_to_another_scheme_is_refused(site: str) -> None:
    with pytest.raises(errors.BadRequest, match="only http and https"):
        sources.fetch_url(f"{site}/to?url=file:///etc/passwd", max_bytes=1024, policy=SITE_ONLY)


def test_a_redirect_loop_ends_with_a_clear_error(site: str) -> None:
    with pytest.raises(errors.BadRequest, match="more than 5 redirects"):
        sources.fetch_url(f"{site}/loop", max_bytes=1024, policy=SITE_ONLY)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [("8.8.8.8", True), ("172.20.1.1", False), ("fd00::1", False), ("::ffff:10.1.2.3", False)],
)
def test_the_default_policy_blocks_private_ranges_only(address: str, allowed: bool) -> None:
    assert url_guard.AddressPolicy().is_allowed(address) is allowed
