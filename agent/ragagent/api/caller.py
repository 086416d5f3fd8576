"""What authentication leaves on one request for the middleware: a typed record.

The scope dependencies (``deps.require``, ``deps.authenticate_websocket``) learn who
called and what their rate limit says; the access log and the security headers, which
run outside the routes, need both. One dataclass under one key of the ASGI scope's
``state`` carries them, read through ``Caller.of``, instead of loose attributes on
``request.state`` that nothing types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection
from starlette.types import Scope

_KEY = "ragagent_caller"


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of one request and its RateLimit-* response headers."""

    principal_id: str
    ratelimit_headers: dict[str, str] = field(default_factory=dict)

    def remember(self, conn: HTTPConnection) -> None:
        """Leave this record on ``conn``'s scope for the middleware around the route."""
        conn.scope.setdefault("state", {})[_KEY] = self

    @staticmethod
    def of(scope: Scope) -> Caller | None:
        """The record an authenticated request left, or None (public or refused requests)."""
        caller = (scope.get("state") or {}).get(_KEY)
        return caller if isinstance(caller, Caller) else None
