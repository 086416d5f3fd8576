"""A real local HTTP server speaking the OpenAI embeddings protocol (``POST /v1/embeddings``).

The real ``openai`` SDK runs against it end to end. Each text's vector is derived
from its sha256, so it is deterministic, and deliberately not unit length (the
embedder must normalise). Rows come back in reverse order with their ``index``,
as the protocol allows, so clients must sort. Tests steer it through
``FakeEmbeddings.behaviour``: inject HTTP errors for the next requests (with
``retry-after-ms: 1`` so SDK retries are quick), delay responses (timeouts), or
return vectors of another dimension.

``python -m tests.support.fake_openai_embeddings --port N`` serves it on every interface
until killed: what the end-to-end test runs in a pod of the agent image (which has no
pytest: the fixtures are in ``fake_openai_fixtures``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support import fake_openai

API_KEY = "sk-fake-embeddings-key"
DEFAULT_DIMENSION = 24


@dataclass
class Behaviour:
    fail_with: list[int] = field(default_factory=list)  # statuses for the next requests
    delay_seconds: float = 0.0
    dimension_override: int | None = None  # answer with this dimension whatever is asked
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)


def vector_for(text: str, dimension: int) -> list[float]:
    """The fake model's deterministic, unnormalised vector for ``text``."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    return [3.0 * float(x) for x in np.random.default_rng(seed).standard_normal(dimension)]


class FakeEmbeddings(fake_openai.FakeServer[Behaviour]):
    """The fake embeddings server."""

    def __init__(self) -> None:
        super().__init__(Behaviour, Route("/v1/embeddings", self.embeddings, methods=["POST"]))

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        behaviour = self.behaviour
        behaviour.requests.append(body)
        behaviour.authorizations.append(request.headers.get("authorization", ""))
        if behaviour.delay_seconds:
            await asyncio.sleep(behaviour.delay_seconds)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "invalid_api_key")
        if behaviour.fail_with:
            return _error(behaviour.fail_with.pop(0), "server_error")
        return JSONResponse(self._result(body))

    def _result(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        dimension = self.behaviour.dimension_override or body.get("dimensions", DEFAULT_DIMENSION)
        rows = [
            {"object": "embedding", "index": i, "embedding": vector_for(text, dimension)}
            for i, text in enumerate(texts)
        ]
        tokens = sum(len(text.split()) for text in texts)
        return {
            "object": "list",
            "data": rows[::-1],
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


def _error(status: int, code: str) -> JSONResponse:
    error = {"error": {"message": f"injected {status}", "type": code, "code": code}}
    return JSONResponse(error, status_code=status, headers={"retry-after-ms": "1"})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The fake OpenAI embeddings server.")
    parser.add_argument("--port", type=int, default=8080)
    port = parser.parse_args(argv).port
    # Every interface: in a pod, the Service's traffic arrives on the pod's address.
    uvicorn.run(FakeEmbeddings().app, host="0.0.0.0", port=port, log_level="warning")


if __name__ == "__main__":
    main()
