"""The agent's one exception hierarchy.

Every error a client can cause or observe is an ``AgentError`` subclass with a
fixed HTTP status and a short, safe ``title``, given as class keywords
(``class NotFound(AgentError, status=404, title="Not found")``). The API maps
them to ``application/problem+json`` (RFC 9457); the ``detail`` must never
contain secrets, SQL or stack traces. Anything that is not an ``AgentError`` is
an internal fault: logged with its request id, answered with a bare 500.
"""

from __future__ import annotations

from typing import Any


class AgentError(Exception):
    """Base class. ``detail`` is shown to the client, so keep it free of internals."""

    status_code: int = 500
    title: str = "Internal error"

    def __init_subclass__(
        cls, *, status: int | None = None, title: str | None = None, **kwargs: Any
    ) -> None:
        """A subclass keeps its parent's status and title unless it names its own."""
        super().__init_subclass__(**kwargs)
        cls.status_code = status or cls.status_code
        cls.title = title or cls.title

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        # Extra members of the problem+json body (RFC 9457 extensions), e.g. which budget.
        self.extensions: dict[str, Any] = {}


class BadRequest(AgentError, status=400, title="Bad request"):
    """The request cannot be served as sent, e.g. a source URL that cannot be fetched."""


class ValidationFailed(AgentError, status=422, title="Validation failed"):
    """A value is empty, malformed or over its limit."""


class Unauthorized(AgentError, status=401, title="Unauthorized"):
    """No or bad credentials. ``reason`` feeds the auth-failure metric."""

    def __init__(self, detail: str | None = None, *, reason: str = "invalid") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})
        self.reason = reason


class Forbidden(AgentError, status=403, title="Forbidden"):
    """The credential is valid but lacks the scope the request needs."""


class NotFound(AgentError, status=404, title="Not found"):
    """Also used for other users' resources, so their existence does not leak."""


class Conflict(AgentError, status=409, title="Conflict"):
    """The resource's state refuses the request, e.g. a conversation at its message limit."""


class PayloadTooLarge(AgentError, status=413, title="Payload too large"):
    """A document or fetched body over its size cap."""


class UnsupportedMediaType(AgentError, status=415, title="Unsupported media type"):
    """A content type ingestion cannot parse."""


class RateLimited(AgentError, status=429, title="Too many requests"):
    """Over a request rate or token budget; ``retry_after`` is in whole seconds."""

    def __init__(
        self, detail: str | None = None, *, retry_after: int, headers: dict[str, str] | None = None
    ):
        merged = {"Retry-After": str(max(1, retry_after)), **(headers or {})}
        super().__init__(detail, headers=merged)
        self.retry_after = max(1, retry_after)


class BudgetExceeded(RateLimited, title="Token budget exhausted"):
    """An LLM token budget has no room for the turn; the body names it and when it resets.

    ``budget`` is ``identity-daily`` (this caller's tokens per UTC day) or
    ``agent-monthly`` (the whole agent's tokens per UTC month); ``resets_at`` is ISO 8601.
    """

    def __init__(self, *, budget: str, resets_at: str, retry_after: int) -> None:
        super().__init__(
            f"The {budget} LLM token budget is exhausted; it resets at {resets_at}",
            retry_after=retry_after,
        )
        self.extensions = {"budget": budget, "resets_at": resets_at}


class ServiceUnavailable(AgentError, status=503, title="Service unavailable"):
    """A dependency (database, LLM provider) is down; clients should retry later."""

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class DatabaseUnavailable(ServiceUnavailable, title="Database unavailable"):
    """The pool could not connect or hand out a connection in time."""


class LLMUnavailable(ServiceUnavailable, title="LLM provider unavailable"):
    """The provider failed after its retries, or its circuit breaker is open."""


class EmbeddingModelMismatch(AgentError, status=409, title="Embedding model mismatch"):
    """The index was built with another embedding model; re-index before use."""
