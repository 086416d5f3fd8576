"""The connected peer is checked again (url_guard.check_peer), so DNS rebinding gains nothing.

Real HTTP servers on loopback and real httpx connections: the site on 127.0.0.2 is the only
address these tests allow, the "internal" service on 127.0.0.1 must never be read. A
rebinding name answers an allowed address to the first look-up (the URL check) and the
internal one to the connection's own look-up; here the first answer comes from
``url_guard.resolve`` replaced for the test (no resolver on this machine can be made to
rebind), while the connection resolves ``localhost`` for real and reaches 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ragagent.core import errors
from ragagent.core.config import Settings
from ragagent.rag import sources, url_guard
from tests.support import http_site

SITE_ONLY = url_guard.AddressPolicy.of(
    blocked=Settings().url_fetch_blocked_networks, allowed=["127.0.0.2/32"]
)
SECRET = b"internal: do not fetch"


class _Handler(http_site.QuietHandler):
    """Answers every path with a Markdown page; the one on 127.0.0.1 holds the secret."""

    def do_GET(self) -> None:  # noqa: N802 (http.server calls it by this name)
        internal = self.connection.getsockname()[0] == "127.0.0.1"
        body = SECRET if internal else b"# Page\n\nTea."
        self.send_response(200)
        self.send_header("Content-Type", "text/markdown")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def site() -> Iterator[str]:
    with http_site.serve(_Handler, "127.0.0.2") as url:
        yield url


@pytest.fixture
def internal() -> Iterator[str]:
    with http_site.serve(_Handler, "127.0.0.1") as url:
        yield url


def check_peer_of(url: str, policy: url_guard.AddressPolicy) -> None:
    """Connect to ``url`` for real and check the reply's peer, as the fetch does."""
    with httpx.Client(trust_env=False) as client, client.stream("GET", url) as reply:
        url_guard.check_peer(reply, policy)


def test_a_reply_from_an_allowed_peer_passes(site: str) -> None:
    check_peer_of(f"{site}/page.md", SITE_ONLY)


def test_a_reply_from_a_blocked_peer_is_refused_naming_the_address(internal: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        check_peer_of(f"{internal}/page.md", SITE_ONLY)
    assert caught.value.status_code == 400
    assert "connected to 127.0.0.1, in a blocked network" in caught.value.detail
    assert SECRET.decode() not in caught.value.detail


def test_the_default_policy_refuses_a_reply_from_ipv6_loopback() -> None:
    with http_site.serve(_Handler, "::1") as url, pytest.raises(errors.BadRequest) as caught:
        check_peer_of(f"{url}/page.md", url_guard.AddressPolicy())
    assert "connected to ::1, in a blocked network" in caught.value.detail


def test_a_name_that_rebinds_to_a_private_address_is_refused_once_connected(
    internal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL check saw only the allowed 127.0.0.2; the connection reached 127.0.0.1."""
    looked_up: list[str] = []

    def first_answer(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.2"]

    monkeypatch.setattr(url_guard, "resolve", first_answer)
    port = httpx.URL(internal).port
    with pytest.raises(errors.BadRequest) as caught:
        sources.fetch_url(f"http://localhost:{port}/page.md", max_bytes=1024, policy=SITE_ONLY)
    assert looked_up == ["localhost"]  # the URL check ran, and let the name through
    assert "connected to 127.0.0.1, in a blocked network" in caught.value.detail
    assert SECRET.decode() not in caught.value.detail


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting() -> None:
    """``localhost`` resolves (really) to loopback: the URL check refuses it by name."""
    with pytest.raises(errors.BadRequest) as caught:
        sources.fetch_url("http://localhost:9/page.md", max_bytes=1024)
    assert "localhost is 127.0.0.1, in a blocked network" in caught.value.detail
