"""The agent's one exception hierarchy.

Every error a client can cause or observe is an ``AgentError`` subclass with a
fixed HTTP status and a short, safe ``title``. The API maps them to
``application/problem+json`` (RFC 9457); the ``detail`` must never contain
secrets, SQL or stack traces. Anything that is not an ``AgentError`` is an
internal fault: logged with its request id, answered with a bare 500.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class. ``detail`` is shown to the client, so keep it free of internals."""

    status_code: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}


class BadRequest(AgentError):
    status_code = 400
    title = "Bad request"


class ValidationFailed(AgentError):
    status_code = 422
    title = "Validation failed"


class Unauthorized(AgentError):
    """No or bad credentials. ``reason`` feeds the auth-failure metric."""

    status_code = 401
    title = "Unauthorized"

    def __init__(self, detail: str | None = None, *, reason: str = "invalid") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})
        self.reason = reason


class Forbidden(AgentError):
    status_code = 403
    title = "Forbidden"


class NotFound(AgentError):
    """Also used for other users' resources, so their existence does not leak."""

    status_code = 404
    title = "Not found"


class Conflict(AgentError):
    status_code = 409
    title = "Conflict"


class PayloadTooLarge(AgentError):
    status_code = 413
    title = "Payload too large"


class UnsupportedMediaType(AgentError):
    status_code = 415
    title = "Unsupported media type"


class RateLimited(AgentError):
    """Over a request rate or token budget; ``retry_after`` is in whole seconds."""

    status_code = 429
    title = "Too many requests"

    def __init__(
        self, detail: str | None = None, *, retry_after: int, headers: dict[str, str] | None = None
    ):
        merged = {"Retry-After": str(max(1, retry_after)), **(headers or {})}
        super().__init__(detail, headers=merged)
        self.retry_after = max(1, retry_after)


class ServiceUnavailable(AgentError):
    """A dependency (database, LLM provider) is down; clients should retry later."""

    status_code = 503
    title = "Service unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class DatabaseUnavailable(ServiceUnavailable):
    title = "Database unavailable"


class LLMUnavailable(ServiceUnavailable):
    title = "LLM provider unavailable"


class EmbeddingModelMismatch(AgentError):
    """The index was built with another embedding model; re-index before use."""

    status_code = 409
    title = "Embedding model mismatch"
