"""Server-sent events: the framing and the response both streaming interfaces send.

``POST /v1/chat`` with ``stream=true`` sends named events (``event:`` and ``data:``);
the OpenAI-compatible stream sends bare ``data:`` lines. Either way the data is JSON,
which keeps newlines in it escaped, and proxies are asked not to buffer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event(name: str, data: dict[str, Any]) -> str:
    """One named event."""
    return f"event: {name}\n{message(data)}"


def message(data: dict[str, Any]) -> str:
    """One unnamed event: a single ``data:`` line."""
    return f"data: {json.dumps(data, default=str)}\n\n"


def response(events: AsyncIterator[str]) -> StreamingResponse:
    """Stream ``events`` as ``text/event-stream``."""
    return StreamingResponse(events, media_type="text/event-stream", headers=HEADERS)
