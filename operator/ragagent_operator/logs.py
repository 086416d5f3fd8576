"""Log lines for the operator: JSON (one object per line) or plain text. No secrets: we
never log values.

kopf's per-object loggers put the object's reference on each record (``k8s_ref``); without
it, "Handler 'on_child' failed" names no RagAgent, so both formats carry it: an ``object``
field in JSON, a ``[namespace/name]`` prefix in plain text, as kopf's own formatters do.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


def object_of(record: logging.LogRecord) -> dict[str, str] | None:
    """The Kubernetes object a record is about (kind, namespace, name), if kopf said."""
    ref: Any = getattr(record, "k8s_ref", None)
    if not isinstance(ref, dict) or not ref.get("name"):
        return None
    return {key: str(ref[key]) for key in ("kind", "namespace", "name") if ref.get(key)}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        about = object_of(record)
        if about:
            line["object"] = about
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        about = object_of(record)
        if not about:
            return text
        where = "/".join(about[key] for key in ("namespace", "name") if key in about)
        return f"[{where}] {text}"


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO; that is noise at our request rates.
    logging.getLogger("httpx").setLevel(logging.WARNING)
