"""Run an ASGI app under uvicorn, programmatically, with a graceful SIGTERM drain.

Never with ``--reload``. X-Forwarded-For/-Proto are believed only from the
addresses in ``RAGAGENT_FORWARDED_ALLOW_IPS`` (a client could otherwise pick its
own rate-limit identity, or its scheme). On the first
SIGTERM/SIGINT the server awaits the ``drain`` it was given (the agent's makes
readiness 503, refuses new requests, lets WebSocket answers finish and then closes
WebSockets with 1001), then uvicorn stops accepting connections and waits for
in-flight requests to finish in what is left of ``shutdown_grace_seconds``. A second
signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer

import uvicorn
from prometheus_client import start_http_server

from ragagent.core.metrics import REGISTRY

if TYPE_CHECKING:
    from ragagent.core.config import Settings

log = logging.getLogger(__name__)


def start_metrics_server(settings: Settings) -> WSGIServer | None:
    """Serve REGISTRY on its own port in a thread (0 disables); call shutdown() to stop."""
    if settings.metrics_port == 0:
        return None
    server, _thread = start_http_server(settings.metrics_port, settings.host, registry=REGISTRY)
    log.info("metrics on http://%s:%d/metrics", settings.host, server.server_address[1])
    return server


def build_config(app: Any, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # uvicorn's ProxyHeadersMiddleware, only for the configured proxies: uvicorn's own
        # default (FORWARDED_ALLOW_IPS or loopback) would let any local process pick its
        # scheme and its rate-limit identity.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
        server_header=False,
        access_log=False,
        log_config=None,
        lifespan="on",
        ws_max_size=settings.max_ws_frame_bytes,
        # No permessage-deflate: its zlib state doubled what an open WebSocket costs (about
        # 55 KiB against 25 KiB, measured by bench.soak idle-ws, whose 2,000 idle sockets
        # must fit one agent in 300 MiB), and the frames it would compress are short tokens.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
    )


class DrainingServer(uvicorn.Server):
    """uvicorn.Server that awaits ``drain`` before uvicorn's own shutdown begins."""

    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain = drain
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining or self._loop is None:
            super().handle_exit(sig, frame)
            self.force_exit = self._draining
            return
        self._draining = True
        self._captured_signals.append(sig)
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self._drain_task = asyncio.ensure_future(self.drain())

    async def drain(self) -> None:
        """Run the app's drain, then let uvicorn finish in what is left of the grace.

        The drain may wait for WebSocket answers while HTTP requests run alongside, so
        uvicorn's own wait for those requests gets only the remainder: the whole
        shutdown stays within one grace period, which the pod's termination grace
        period is sized for.
        """
        started = time.monotonic()
        await self._drain()
        left = self.config.timeout_graceful_shutdown or 0
        self.config.timeout_graceful_shutdown = max(1, round(left - (time.monotonic() - started)))
        self.should_exit = True


def serve(app: Any, settings: Settings, *, drain: Callable[[], Awaitable[None]]) -> None:
    """Serve ``app`` until signalled, awaiting ``drain`` on the first signal."""
    DrainingServer(build_config(app, settings), drain).run()
