"""Process-wide logging: JSON in production, readable lines in development.

Every record carries the current ``request_id`` and ``trace_id`` (taken from
context variables, so concurrent requests never mix them up). A redaction
filter masks anything shaped like a credential, as a last line of defence:
the code itself never logs bodies or secrets at INFO.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ragagent.core.config import Settings

REQUEST_ID: ContextVar[str] = ContextVar("ragagent_request_id", default="-")

# API keys (rag_<prefix>_<secret>), bearer tokens and URL passwords.
_SECRET_PATTERNS = (
    re.compile(r"rag_[A-Za-z0-9]+_[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(://[^:/@\s]+:)[^@\s]+(@)"),
)
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def redact(text: str) -> str:
    """Mask credentials in free text; keeps the shape so logs stay readable."""
    text = _SECRET_PATTERNS[0].sub("rag_***", text)
    text = _SECRET_PATTERNS[1].sub(r"\1***", text)
    return _SECRET_PATTERNS[2].sub(r"\1***\2", text)


def current_trace_id() -> str:
    """The active OpenTelemetry trace id as hex, or '-' outside a recorded span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else "-"


class ContextFilter(logging.Filter):
    """Stamps request and trace ids on every record and redacts its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        record.trace_id = current_trace_id()
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra record attributes become fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


class PrettyFormatter(logging.Formatter):
    """Human-friendly single lines for a terminal, with the same extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = " ".join(f"{key}={value}" for key, value in _extras(record).items())
        line = f"{time} {record.levelname:<7} {record.name}: {record.getMessage()}  {extras}"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


def is_json(settings: Settings) -> bool:
    if settings.log_format == "auto":
        return settings.is_production
    return settings.log_format == "json"


def configure_logging(settings: Settings) -> None:
    """Install one stderr handler on the root logger (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if is_json(settings) else PrettyFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_ragagent", False):
            root.removeHandler(old)
    handler._ragagent = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # uvicorn's own access log is replaced by ours (with request ids and templates).
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
