"""Chat clients for the soak scenarios: one turn over REST, SSE or a WebSocket, as a record.

A turn is acknowledged when the client was told it succeeded: a 200 JSON answer, an SSE
stream or WebSocket answer that reached ``done``. Anything else is recorded with the status
the agent gave (an HTTP status, an SSE ``error`` event's or a WebSocket error frame's), or 0
when the connection itself failed, so scenarios can tell a 503 from a 500 from a reset.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from bench._soak_agent import QUESTIONS

TRANSPORTS = ("rest", "sse", "ws")
CLIENT_TIMEOUT_SECONDS = 120.0
TURNS_PER_CONVERSATION = 8
_serial = itertools.count(1)


@dataclass
class Turn:
    """One question and what became of it."""

    transport: str
    question: str
    started: float  # time.monotonic()
    seconds: float = 0.0
    status: int = 0
    conversation_id: str | None = None
    retry_after: str | None = None
    detail: str = ""
    in_stream: bool = False  # the failure came as an SSE event or WebSocket frame (no headers)
    degraded: bool = False  # answered by the offline extractive answerer: no LLM did
    declined: bool = False  # nothing relevant retrieved: answered without any LLM call

    @property
    def acknowledged(self) -> bool:
        return self.status == 200 and self.conversation_id is not None


def next_question() -> str:
    """A corpus question with a unique tag, so its stored turn can be found afterwards."""
    return f"{random.choice(QUESTIONS)} (soak {next(_serial)})"  # noqa: S311 (not a secret)


def http_client(base: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT_SECONDS, limits=limits)


def _body(question: str, conversation_id: str | None, *, stream: bool) -> dict[str, Any]:
    return {"message": question, "conversation_id": conversation_id, "stream": stream}


async def rest_turn(client: httpx.AsyncClient, question: str, conversation: str | None) -> Turn:
    turn = Turn("rest", question, time.monotonic())
    try:
        response = await client.post("/v1/chat", json=_body(question, conversation, stream=False))
        turn.status, turn.retry_after = response.status_code, response.headers.get("retry-after")
        if response.status_code == 200:
            _take_done(turn, response.json())
        else:
            turn.detail = response.text[:200]
    except httpx.HTTPError as exc:
        turn.detail = repr(exc)
    turn.seconds = time.monotonic() - turn.started
    return turn


async def sse_turn(client: httpx.AsyncClient, question: str, conversation: str | None) -> Turn:
    turn = Turn("sse", question, time.monotonic())
    body = _body(question, conversation, stream=True)
    try:
        async with client.stream("POST", "/v1/chat", json=body) as response:
            turn.status, turn.retry_after = (
                response.status_code,
                response.headers.get("retry-after"),
            )
            if response.status_code == 200:
                await _read_sse(response, turn)
            else:
                turn.detail = (await response.aread()).decode(errors="replace")[:200]
    except httpx.HTTPError as exc:
        turn.status, turn.detail = 0, repr(exc)
    turn.seconds = time.monotonic() - turn.started
    return turn


def _take_done(turn: Turn, done: dict[str, Any]) -> None:
    """What an answer's end (JSON body, SSE ``done`` event or WebSocket frame) tells."""
    turn.conversation_id = done["conversation_id"]
    turn.degraded, turn.declined = bool(done.get("degraded")), bool(done.get("declined"))


async def _read_sse(response: httpx.Response, turn: Turn) -> None:
    """Follow the stream to ``done`` (acknowledged) or ``error`` (its status)."""
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event in ("done", "error"):
            data = json.loads(line.removeprefix("data: "))
            if event == "done":
                _take_done(turn, data)
            else:
                turn.status, turn.detail = int(data["status"]), str(data["detail"])
                turn.in_stream = True
            return
    turn.status, turn.detail = 0, "stream ended before done"


async def ws_turn(websocket: ClientConnection, question: str, conversation: str | None) -> Turn:
    """Ask on an open socket; a closed socket is a status-0 turn (the caller reconnects)."""
    turn = Turn("ws", question, time.monotonic())
    try:
        await websocket.send(json.dumps({"message": question, "conversation_id": conversation}))
        while True:
            frame = json.loads(await websocket.recv())
            if frame["type"] == "done":
                turn.status = 200
                _take_done(turn, frame)
                break
            if frame["type"] == "error":
                turn.status, turn.detail = int(frame["status"]), str(frame["detail"])
                turn.in_stream = True
                break
    except (WebSocketException, OSError) as exc:
        turn.status, turn.detail = 0, repr(exc)
    turn.seconds = time.monotonic() - turn.started
    return turn


Asker = Callable[[str, str | None], Awaitable[Turn]]


async def chat_loop(
    transport: str,
    *,
    base: str,
    http: httpx.AsyncClient,
    until: float,
    think: tuple[float, float],
    record: Callable[[Turn], None],
) -> None:
    """One client: ask, record, think, until ``until`` (monotonic); a conversation runs
    ``TURNS_PER_CONVERSATION`` turns, then a new one starts. A WebSocket client keeps one
    socket and opens a new one only when it was closed."""
    conversation: str | None = None
    asked = 0
    websocket: ClientConnection | None = None
    try:
        while time.monotonic() < until:
            if transport == "ws" and websocket is None:
                websocket = await _open_ws(base, record)
                if websocket is None:
                    await asyncio.sleep(random.uniform(*think))  # noqa: S311
                    continue
            turn = await _ask(transport, http, websocket, next_question(), conversation)
            record(turn)
            if transport == "ws" and turn.status == 0 and websocket is not None:
                await websocket.close()
                websocket = None
            asked = asked + 1 if turn.acknowledged else asked
            conversation = turn.conversation_id if asked % TURNS_PER_CONVERSATION else None
            await asyncio.sleep(random.uniform(*think))  # noqa: S311 (not a secret)
    finally:
        if websocket is not None:
            await websocket.close()


def chat_clients(
    count: int,
    *,
    http: httpx.AsyncClient,
    until: float,
    think: tuple[float, float],
    record: Callable[[Turn], None],
) -> list[Coroutine[Any, Any, None]]:
    """``count`` chat loops (``chat_loop``) on REST, SSE and WebSocket in turn, to gather."""
    base = str(http.base_url).rstrip("/")
    return [
        chat_loop(
            TRANSPORTS[index % 3], base=base, http=http, until=until, think=think, record=record
        )
        for index in range(count)
    ]


async def _ask(
    transport: str,
    http: httpx.AsyncClient,
    websocket: ClientConnection | None,
    question: str,
    conversation: str | None,
) -> Turn:
    if transport == "rest":
        return await rest_turn(http, question, conversation)
    if transport == "sse":
        return await sse_turn(http, question, conversation)
    assert websocket is not None
    return await ws_turn(websocket, question, conversation)


async def _open_ws(base: str, record: Callable[[Turn], None]) -> ClientConnection | None:
    """A new chat socket, or None (recorded as a failed ws turn) when it cannot open."""
    url = base.replace("http://", "ws://") + "/v1/ws/chat"
    try:
        return await connect(url, open_timeout=CLIENT_TIMEOUT_SECONDS, max_queue=None)
    except (WebSocketException, OSError, TimeoutError) as exc:
        record(Turn("ws", "(connect)", time.monotonic(), detail=repr(exc)))
        return None
