"""The limiter on its own: exact limits, per identity and scope."""

from __future__ import annotations

import pytest

from ragagent.core import errors
from ragagent.core.metrics import RATE_LIMITED
from ragagent.core.ratelimit import Limiter, ScopeLimit
from ragagent.core.security import SCOPES, Principal, anonymous


def build_limiter(per_minute: int = 3, burst: int = 2) -> Limiter:
    return Limiter(default=ScopeLimit(per_minute, burst), scopes={"ingest": ScopeLimit(1, 0)})


def user(name: str) -> Principal:
    return Principal(id=name, kind="apikey", scopes=SCOPES)


async def test_the_request_after_rate_plus_burst_is_refused() -> None:
    limiter = build_limiter(per_minute=3, burst=2)
    alice = user("alice")
    remaining = [int((await limiter.hit(alice, "chat"))["RateLimit-Remaining"]) for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    before = RATE_LIMITED.labels(scope="chat", kind="requests")._value.get()
    with pytest.raises(errors.RateLimited) as refused:
        await limiter.hit(alice, "chat")
    headers = refused.value.headers
    assert headers["RateLimit-Limit"] == "5"
    assert headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert headers["Retry-After"] == headers["RateLimit-Reset"]
    assert RATE_LIMITED.labels(scope="chat", kind="requests")._value.get() == before + 1


@pytest.fixture
def one_per_minute() -> Limiter:
    return build_limiter(per_minute=1, burst=0)


async def test_identities_and_scopes_are_counted_apart(one_per_minute: Limiter) -> None:
    await one_per_minute.hit(user("alice"), "chat")
    await one_per_minute.hit(user("bob"), "chat")
    await one_per_minute.hit(user("alice"), "admin")
    with pytest.raises(errors.RateLimited):
        await one_per_minute.hit(user("alice"), "chat")


async def test_anonymous_callers_are_limited_per_client_ip(one_per_minute: Limiter) -> None:
    await one_per_minute.hit(anonymous("10.0.0.1"), "chat")
    await one_per_minute.hit(anonymous("10.0.0.2"), "chat")
    with pytest.raises(errors.RateLimited):
        await one_per_minute.hit(anonymous("10.0.0.1"), "chat")


async def test_scope_overrides_apply() -> None:
    limiter = build_limiter(per_minute=10, burst=0)
    await limiter.hit(user("carol"), "ingest")
    with pytest.raises(errors.RateLimited, match="ingest"):
        await limiter.hit(user("carol"), "ingest")
