"""The connected peer is checked again (url_guard.check_peer), so DNS rebinding gains nothing.

Real HTTP servers on loopback (test_url_sources's) and real httpx connections: the site on
127.0.0.2 is the only address these tests allow, the "internal" service on 127.0.0.1 must
never be read. A rebinding name answers an allowed address to the first look-up (the URL
check) and the internal one to the connection's own look-up; here the first answer comes from
``url_guard.resolve`` replaced for the test (no resolver on this machine can be made to
rebind), while the connection resolves ``localhost`` for real and reaches 127.0.0.1.
"""

from __future__ import annotations

import httpx
import pytest

from ragagent.core import errors
from ragagent.rag import sources, url_guard
from tests.agent.test_url_sources import SECRET, SITE_ONLY, Handler
from tests.support import http_site


def check_peer_of(url: str, policy: url_guard.AddressPolicy) -> None:
    """Connect to ``url`` for real and check the reply's peer, as the fetch does."""
    with httpx.Client(trust_env=False) as client, client.stream("GET", url) as reply:
        url_guard.check_peer(reply, policy)


def test_a_reply_from_an_allowed_peer_passes() -> None:
    with http_site.serve(Handler, "127.0.0.2") as site:
        check_peer_of(f"{site}/page.md", SITE_ONLY)


def test_a_reply_from_a_blocked_peer_is_refused_naming_the_address() -> None:
    with (
        http_site.serve(Handler, "127.0.0.1") as internal,
        pytest.raises(errors.BadRequest) as caught,
    ):
        check_peer_of(f"{internal}/page.md", SITE_ONLY)
    assert caught.value.status_code == 400
    assert "connected to 127.0.0.1, in a blocked network" in caught.value.detail
    assert SECRET.decode() not in caught.value.detail


def test_the_default_policy_refuses_a_reply_from_ipv6_loopback() -> None:
    with http_site.serve(Handler, "::1") as url, pytest.raises(errors.BadRequest) as caught:
        check_peer_of(f"{url}/page.md", url_guard.AddressPolicy())
    assert "connected to ::1, in a blocked network" in caught.value.detail


def test_a_name_that_rebinds_to_a_private_address_is_refused_once_connected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The URL check saw only the allowed 127.0.0.2; the connection reached 127.0.0.1."""
    looked_up: list[str] = []

    def first_answer(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.2"]

    monkeypatch.setattr(url_guard, "resolve", first_answer)
    with http_site.serve(Handler, "127.0.0.1") as internal:
        url = f"http://localhost:{httpx.URL(internal).port}/page.md"
        with pytest.raises(errors.BadRequest) as caught:
            sources.fetch_url(url, max_bytes=1024, policy=SITE_ONLY)
    assert looked_up == ["localhost"]  # the URL check ran, and let the name through
    assert "connected to 127.0.0.1, in a blocked network" in caught.value.detail
    assert SECRET.decode() not in caught.value.detail


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting() -> None:
    """``localhost`` resolves (really) to loopback: the URL check refuses it by name."""
    with pytest.raises(errors.BadRequest) as caught:
        sources.fetch_url("http://localhost:9/page.md", max_bytes=1024)
    assert "localhost is 127.0.0.1, in a blocked network" in caught.value.detail
