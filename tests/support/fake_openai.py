"""A real local HTTP server speaking the OpenAI chat-completions protocol.

It lets the real ``openai`` SDK run end to end without the internet. The
"model" answers deterministically from its prompt: it quotes the first
sentence of context passage [1] with that marker (or says it found nothing).
Tests steer it through ``FakeOpenAI.behaviour``: inject HTTP errors for the
next requests, delay the first byte (timeouts), omit usage, or drop the
connection in the middle of a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ragagent.rag import rewrite

_PASSAGE_ONE = re.compile(r'^<document index="1"[^\n]*>\n(?P<text>.+?)\n</document>$', re.M | re.S)


@dataclass
class Behaviour:
    fail_with: list[int] = field(default_factory=list)  # statuses for the next requests
    delay_seconds: float = 0.0  # before the response starts
    include_usage: bool = True  # honour stream_options.include_usage
    break_after_chunks: int | None = None  # drop the connection mid-stream
    chunk_delay_seconds: float = 0.0  # between streamed pieces: a slow answer
    # The "model"'s standalone query for a follow-up rewrite request, by the question it
    # was asked to rewrite; a question not listed comes back unchanged.
    rewrites: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)  # of each request, in order


def build_reply(messages: list[dict[str, Any]], rewrites: dict[str, str] | None = None) -> str:
    """The fake model's answer: passage [1]'s first sentence, cited, or a plain 'nothing';
    for the agent's follow-up rewrite prompt, the query ``rewrites`` gives for its question.

    Passages are the agent's ``<document index="n">`` elements, in whichever message."""
    if messages and messages[0]["content"] == rewrite.SYSTEM_PROMPT:
        asked = str(messages[-1]["content"]).rsplit("Last question: ", 1)[-1]
        return (rewrites or {}).get(asked, asked)
    match = _PASSAGE_ONE.search("\n".join(str(m["content"]) for m in messages))
    if match is None:
        return "I found nothing relevant in the provided passages."
    first = " ".join(match.group("text").split()).split(". ")[0].rstrip(".")
    return f"According to the knowledge base, {first}. [1]"


def _usage(messages: list[dict[str, Any]], reply: str) -> dict[str, int]:
    prompt = sum(len(str(m["content"])) for m in messages) // 4 + 1
    completion = len(reply.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


BehaviourT = TypeVar("BehaviourT")


class FakeServer(Generic[BehaviourT]):
    """A fake server's one-route application and behaviour; ``url`` is set once it listens."""

    def __init__(self, new_behaviour: Callable[[], BehaviourT], route: Route) -> None:
        self._new_behaviour = new_behaviour
        self.behaviour = new_behaviour()
        self.url = ""
        self.app = Starlette(routes=[route])

    def reset(self) -> None:
        """Fresh behaviour (no injected failures, no recorded requests) for the next test."""
        self.behaviour = self._new_behaviour()


class FakeOpenAI(FakeServer[Behaviour]):
    """The fake chat completions server."""

    def __init__(self) -> None:
        super().__init__(
            Behaviour, Route("/v1/chat/completions", self.completions, methods=["POST"])
        )

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        behaviour = self.behaviour
        behaviour.requests.append(body)
        behaviour.headers.append(dict(request.headers))
        if behaviour.delay_seconds:
            await asyncio.sleep(behaviour.delay_seconds)
        if behaviour.fail_with:
            status = behaviour.fail_with.pop(0)
            error = {"error": {"message": f"injected {status}", "type": "server_error"}}
            return JSONResponse(error, status_code=status, headers={"Retry-After": "0"})
        reply = build_reply(body["messages"], behaviour.rewrites)
        if not body.get("stream"):
            return JSONResponse(self._completion(body, reply))
        return StreamingResponse(self._stream(body, reply), media_type="text/event-stream")

    def _completion(self, body: dict[str, Any], reply: str) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(body["messages"], reply),
        }

    async def _stream(self, body: dict[str, Any], reply: str) -> AsyncIterator[str]:
        model = body["model"]
        words = reply.split(" ")
        pieces = [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)]
        yield f"data: {json.dumps(_chunk(model, {'role': 'assistant', 'content': ''}))}\n\n"
        for index, piece in enumerate(pieces):
            if self.behaviour.break_after_chunks == index:
                raise ConnectionAbortedError("injected: connection dropped mid-stream")
            if self.behaviour.chunk_delay_seconds:
                await asyncio.sleep(self.behaviour.chunk_delay_seconds)
            yield f"data: {json.dumps(_chunk(model, {'content': piece}))}\n\n"
        yield f"data: {json.dumps(_chunk(model, {}, 'stop'))}\n\n"
        if self.behaviour.include_usage and (body.get("stream_options") or {}).get("include_usage"):
            final = _chunk(model, {})
            final["choices"] = []
            final["usage"] = _usage(body["messages"], reply)
            yield f"data: {json.dumps(final)}\n\n"
        yield "data: [DONE]\n\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """Any ASGI app served by a real uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(
        self,
        app: Any,
        *,
        lifespan: Literal["auto", "on", "off"] = "off",
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """``tls`` is a (certificate, key) PEM pair: then the server speaks https only."""
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan=lifespan,
            ws="websockets-sansio",
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class Served(Protocol):
    """A fake server: its ASGI app, and the URL it is reached at once served."""

    app: Any
    url: str


ServedT = TypeVar("ServedT", bound=Served)


def serve(fake: ServedT) -> Iterator[ServedT]:
    """Serves ``fake.app`` on a thread with ``fake.url`` set, until the caller stops iterating."""
    with ServerThread(fake.app) as server:
        fake.url = server.url
        yield fake


class FakeServers:
    """The session's fake OpenAI servers, each started on first use and kept for the session."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._started: list[FakeOpenAI] = []

    def fresh(self, index: int) -> FakeOpenAI:
        """Server ``index`` (0 first), started if need be, with fresh behaviour."""
        while len(self._started) <= index:
            served = contextlib.contextmanager(serve)(FakeOpenAI())
            self._started.append(self._stack.enter_context(served))
        fake = self._started[index]
        fake.reset()
        return fake
