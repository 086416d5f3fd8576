"""The long-lived objects one agent process shares between requests.

``main.lifespan`` creates one ``AppState`` at start-up and attaches it to the
app; ``AppState.of(app)`` is the one place that reads it back (routes use
``api.deps.StateDep``). Nothing here is created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ragagent.core.single_flight import SingleFlight

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.types import Send

    from ragagent.core.config import Settings
    from ragagent.core.db import Database
    from ragagent.core.ratelimit import Limiter
    from ragagent.rag.types import LLM, Embedder
    from ragagent.services.auth import Authenticator
    from ragagent.services.chat import ChatService

log = logging.getLogger(__name__)

WS_GOING_AWAY = 1001


class WebSocketRegistry:
    """The raw ``send`` of every accepted WebSocket, so shutdown can close them."""

    def __init__(self) -> None:
        self._open: dict[int, Send] = {}

    def __len__(self) -> int:
        return len(self._open)

    def add(self, key: int, send: Send) -> None:
        self._open[key] = send

    def discard(self, key: int) -> None:
        self._open.pop(key, None)

    async def close_all(self, code: int = WS_GOING_AWAY) -> int:
        """Send a close frame to every open socket; returns how many were asked."""
        sends = list(self._open.values())
        results = await asyncio.gather(
            *(
                send({"type": "websocket.close", "code": code, "reason": "server shutting down"})
                for send in sends
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):
                log.debug("websocket already closing: %s", type(result).__name__)
        return len(sends)


class InFlight:
    """Answers streaming now, so a drain can wait for them before closing their sockets."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return self._count

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count one answer while the block runs."""
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if not self._count:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no answer streams (at once when none does)."""
        await self._idle.wait()


class SocketQuota:
    """Open chat WebSockets per caller identity, so one caller cannot hold them all."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    def acquire(self, who: str, limit: int) -> bool:
        """Count one more socket for ``who``; False (and nothing counted) at ``limit``."""
        if self._open.get(who, 0) >= limit:
            return False
        self._open[who] = self._open.get(who, 0) + 1
        return True

    def release(self, who: str) -> None:
        left = self._open.get(who, 0) - 1
        if left > 0:
            self._open[who] = left
        else:
            self._open.pop(who, None)


@dataclass
class AppState:
    """The shared clients and services, the open WebSockets and the draining flag."""

    settings: Settings
    db: Database
    embedder: Embedder
    llm: LLM
    limiter: Limiter
    auth: Authenticator
    chat: ChatService
    websockets: WebSocketRegistry = field(default_factory=WebSocketRegistry)
    ws_quota: SocketQuota = field(default_factory=SocketQuota)
    # WebSocket answers streaming now: on SIGTERM they finish before their sockets close.
    ws_answers: InFlight = field(default_factory=InFlight)
    # The last readiness database check, shared by probes for readiness_cache_seconds.
    readiness: SingleFlight[dict[str, str]] = field(default_factory=SingleFlight)
    # Flipped on SIGTERM: /readyz turns 503 and new work is refused while in-flight drains.
    draining: bool = False

    def attach(self, app: Starlette) -> None:
        """Make this the state ``of(app)`` returns, until ``detach``."""
        app.state.ragagent = self

    @staticmethod
    def detach(app: Starlette) -> None:
        """From now on ``of(app)`` is None (before start-up and after shutdown)."""
        app.state.ragagent = None

    @staticmethod
    def of(app: Starlette) -> AppState | None:
        """The app's state while its lifespan runs; None before start-up and after shutdown."""
        state: AppState | None = app.state.ragagent
        return state
