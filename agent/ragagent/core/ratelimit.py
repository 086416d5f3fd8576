"""Per-identity request rate limits (``limits``).

Requests: each scope allows ``requests_per_minute + burst`` in any 60-second
moving window, and ``requests_per_minute * 60`` per hour, so a client may burst
above its steady rate briefly but not sustain it. Identity is the principal id,
or the client IP for anonymous callers. LLM token budgets are not counted here: a turn
reserves its tokens before the LLM call (``services.budget``). Storage is in-process by default;
``rate_limit_storage=postgres`` (``ragagent.db.ratelimit_store``, built by the lifespan on
the app's pool) or ``redis`` shares the counters across replicas and restarts.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from ragagent.core import errors
from ragagent.core.metrics import RATE_LIMITED

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ragagent.core.config import Settings
    from ragagent.core.security import Principal


@dataclass(frozen=True)
class ScopeLimit:
    per_minute: int
    burst: int

    def items(self) -> tuple[RateLimitItem, RateLimitItem]:
        return (
            RateLimitItemPerMinute(self.per_minute + self.burst),
            RateLimitItemPerHour(self.per_minute * 60),
        )


def build_storage_url(settings: Settings) -> str:
    """The ``limits`` URL of an in-process or Redis storage (postgres needs the app's pool)."""
    if settings.rate_limit_storage == "redis" and settings.rate_limit_storage_url:
        return settings.rate_limit_storage_url
    return "memory://"


def create_storage(url: str) -> Storage:
    """A ``limits`` asyncio storage for ``memory://`` or ``redis://host:port``."""
    storage = storage_from_string(async_url(url), **storage_options(url))
    if not isinstance(storage, Storage):  # async_url names an asyncio storage, always
        raise TypeError(f"{url}: not an asyncio limits storage")
    return storage


def async_url(url: str) -> str:
    """``limits`` names its asyncio storages ``async+<scheme>``."""
    return url if url.startswith("async+") else f"async+{url}"


def storage_options(url: str) -> dict[str, str | bool]:
    """Redis goes through redis-py (a declared dependency), not limits' coredis default.

    Storage errors are wrapped so an unreachable Redis surfaces as one error type.
    """
    if url.removeprefix("async+").startswith("redis"):
        return {"implementation": "redispy", "wrap_exceptions": True}
    return {}


@contextmanager
def storage_guard() -> Iterator[None]:
    """A shared limiter store that is down refuses work (503) rather than waving it through."""
    try:
        yield
    except StorageError as exc:
        log.warning("rate-limit storage unavailable: %s", type(exc.storage_error).__name__)
        raise errors.ServiceUnavailable("Rate limiting is unavailable; retry later") from None


def identity(principal: Principal) -> str:
    if principal.kind == "anonymous":
        return f"ip:{principal.client_ip or 'unknown'}"
    return f"{principal.kind}:{principal.id}"


def parse_scope_limits(overrides: list[str], default: ScopeLimit) -> dict[str, ScopeLimit]:
    """``["chat=30/5", "ingest=10/0"]`` → per-scope limits (requests per minute / burst)."""
    limits: dict[str, ScopeLimit] = {}
    for entry in overrides:
        scope, _, spec = entry.partition("=")
        per_minute, _, burst = spec.partition("/")
        limits[scope.strip()] = ScopeLimit(int(per_minute), int(burst or default.burst))
    return limits


class Limiter:
    """Raises ``errors.RateLimited`` (429 with Retry-After and RateLimit-* headers)."""

    def __init__(
        self,
        *,
        default: ScopeLimit,
        scopes: dict[str, ScopeLimit] | None = None,
        storage: Storage | None = None,
    ) -> None:
        """``storage`` defaults to a fresh in-process one: limits of this instance alone."""
        self.default = default
        self.scopes = scopes or {}
        storage = storage or create_storage("memory://")
        self._requests = MovingWindowRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: Settings, storage: Storage | None = None) -> Limiter:
        """``storage`` is the shared one when the caller built it (postgres needs the pool);
        otherwise the settings' memory or Redis storage."""
        if storage is None and settings.rate_limit_storage == "postgres":
            raise ValueError("rate_limit_storage=postgres needs a PostgresStorage on the pool")
        default = ScopeLimit(settings.rate_limit_requests_per_minute, settings.rate_limit_burst)
        return cls(
            default=default,
            scopes=parse_scope_limits(settings.rate_limit_scopes, default),
            storage=storage or create_storage(build_storage_url(settings)),
        )

    def limit_for(self, scope: str) -> ScopeLimit:
        return self.scopes.get(scope, self.default)

    async def hit(self, principal: Principal, scope: str) -> dict[str, str]:
        """Count one request; returns RateLimit-* headers for the response."""
        with storage_guard():
            return await self._hit(principal, scope)

    async def _hit(self, principal: Principal, scope: str) -> dict[str, str]:
        who = identity(principal)
        short, long = self.limit_for(scope).items()
        for item in (short, long):
            if not await self._requests.hit(item, scope, who):
                RATE_LIMITED.labels(scope=scope, kind="requests").inc()
                headers = await self._headers(item, scope, who)
                raise errors.RateLimited(
                    f"Rate limit exceeded for scope '{scope}'",
                    retry_after=int(headers["RateLimit-Reset"]),
                    headers=headers,
                )
        return await self._headers(short, scope, who)

    async def _headers(self, item: RateLimitItem, scope: str, who: str) -> dict[str, str]:
        stats = await self._requests.get_window_stats(item, scope, who)
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        return {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(stats.remaining),
            "RateLimit-Reset": str(reset),
        }
