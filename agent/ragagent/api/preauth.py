"""The pre-authentication limit as ASGI middleware: 429 before any credential is checked.

The client is the connection's peer address as the server reports it (uvicorn replaces it
with a forwarded address only for proxies it is told to trust). Probes are exempt: the
kubelet must always reach them, and /readyz answers from a short cache.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ragagent.api import problems
from ragagent.core.client_limit import ClientLimiter
from ragagent.core.ratelimit import ScopeLimit

PROBE_PATHS = frozenset({"/livez", "/readyz", "/healthz"})


class PreAuthLimitMiddleware:
    """Refuses a client over its per-minute budget: 429 with Retry-After, or WebSocket 1008."""

    def __init__(self, app: ASGIApp, *, per_minute: int, burst: int) -> None:
        self.app = app
        self.limiter = ClientLimiter(ScopeLimit(per_minute, burst))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown",))[0]
        retry_after = await self.limiter.retry_after(str(client))
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        detail = (
            f"More than {self.limiter.limit.per_minute} requests a minute from this address "
            f"(RAGAGENT_PREAUTH_REQUESTS_PER_MINUTE); retry in {retry_after} s"
        )
        if scope["type"] == "websocket":
            reason = "too many requests from this address"
            await send(
                {"type": "websocket.close", "code": problems.WS_POLICY_VIOLATION, "reason": reason}
            )
            return
        body = problems.build_problem(
            status=429,
            title="Too many requests",
            detail=detail,
            instance=scope.get("path", ""),
            kind="urn:ragagent:error:rate-limited",
        )
        await problems.send_problem(scope, send, body, headers={"Retry-After": str(retry_after)})
