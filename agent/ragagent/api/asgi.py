"""The base of the agent's pure ASGI middleware: one method per kind of connection.

A subclass overrides ``http`` or ``websocket`` (or both); every other connection, and the
kind it leaves alone, passes to the wrapped app untouched, so streaming stays unbuffered.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class Middleware:
    """Dispatches a connection by its ASGI type; the defaults pass it on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
