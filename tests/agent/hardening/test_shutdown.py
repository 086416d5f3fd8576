"""Graceful shutdown of a real ``ragagent serve`` process on SIGTERM.

An SSE chat is in flight (the fake LLM holds its answer back) and a WebSocket
is open when SIGTERM arrives: the stream must complete, the WebSocket must be
closed with 1001, new connections must be refused, and the process must exit
within the grace period.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ragagent.api.routes import ws
from tests.support.fake_openai import FakeOpenAI, free_port

pytestmark = pytest.mark.slow

GRACE_SECONDS = 10
LLM_DELAY_SECONDS = 3.0
DOC = "# Backups\n\nRagAgent backs up PostgreSQL nightly with pg_dump to object storage."
QUESTION = "How are backups of PostgreSQL made?"


@pytest.fixture
def agent(
    db_url: str, data_dir: str, tmp_path: Path, fake_openai: FakeOpenAI
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {
        **os.environ,
        "RAGAGENT_DATABASE_URL": db_url,
        "RAGAGENT_DATA_DIR": data_dir,
        "RAGAGENT_METRICS_PORT": "0",
        "RAGAGENT_INGEST_SAMPLES_ON_START": "false",
        "RAGAGENT_AUTH_DISABLED": "true",
        "RAGAGENT_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "OPENAI_BASE_URL": f"{fake_openai.url}/v1",
        "OPENAI_API_KEY": "test-key",
    }
    ragagent = Path(sys.executable).with_name("ragagent")
    command = [str(ragagent), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (tmp_path / "agent.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, base, tmp_path / "agent.log")
        # Something relevant to answer from, or a turn is declined without calling the LLM.
        document = {"external_id": "backups", "title": "Backups", "text": DOC}
        assert httpx.post(f"{base}/v1/documents", json=document, timeout=60).status_code < 300
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def wait_ready(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"agent exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"agent never became ready:\n{log.read_text()[-3000:]}")


async def new_work_is_refused(base: str) -> bool:
    """True when a fresh request is refused: by a 503 while the app drains, or
    by a closed listener once uvicorn has stopped accepting. Which one a client
    sees depends on timing: the WebSockets close before uvicorn's next tick
    closes the listening socket."""
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as fresh:
            response = await fresh.get("/v1/conversations")
    except httpx.TransportError:
        return True
    return response.status_code == 503


async def read_stream(response: httpx.Response) -> list[str]:
    return [line async for line in response.aiter_lines() if line.startswith("event:")]


async def test_sigterm_drains_streams_and_closes_websockets(
    agent: tuple[subprocess.Popen[bytes], str], fake_openai: FakeOpenAI
) -> None:
    process, base = agent
    fake_openai.behaviour.delay_seconds = LLM_DELAY_SECONDS
    ws_url = base.replace("http", "ws") + "/v1/ws/chat"
    async with (
        connect(ws_url) as websocket,
        httpx.AsyncClient(base_url=base, timeout=30) as client,
        client.stream("POST", "/v1/chat", json={"message": QUESTION, "stream": True}) as stream,
    ):
        assert stream.status_code == 200
        reader = asyncio.create_task(read_stream(stream))
        await asyncio.sleep(0.3)  # the request is now waiting for the LLM
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(websocket.recv(), timeout=GRACE_SECONDS)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001
        assert await new_work_is_refused(base)
        events = await asyncio.wait_for(reader, timeout=GRACE_SECONDS)
    assert "event: token" in events
    assert events[-1] == "event: done"
    assert time.monotonic() - signalled >= LLM_DELAY_SECONDS - 0.5
    exit_code = await asyncio.to_thread(process.wait, GRACE_SECONDS + 5)
    assert exit_code in (0, -signal.SIGTERM)


async def ws_answer(websocket: ClientConnection) -> list[str]:
    """Ask on ``websocket`` and return the frame types up to ``done``, after its first token."""
    await websocket.send(json.dumps({"message": QUESTION}))
    kinds: list[str] = []
    while not kinds or kinds[-1] not in ("done", "error"):
        kinds.append(json.loads(await websocket.recv())["type"])
    return kinds


async def sse_answer(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> list[str]:
    async with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        return [line async for line in response.aiter_lines() if line.startswith("data: ")]


InFlight = tuple[list[str], list[str], list[str], httpx.Response]


async def answers_in_flight(base: str, websocket: ClientConnection) -> InFlight:
    """One answer on each transport: WebSocket frame types, SSE and OpenAI-compatible
    data lines, and the REST response."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        completion = {
            "model": "ragagent",
            "stream": True,
            "messages": [{"role": "user", "content": QUESTION}],
        }
        return await asyncio.gather(
            ws_answer(websocket),
            sse_answer(client, "/v1/chat", {"message": QUESTION, "stream": True}),
            sse_answer(client, "/v1/chat/completions", completion),
            client.post("/v1/chat", json={"message": QUESTION}),
        )


async def test_sigterm_lets_answers_in_flight_finish_on_every_transport(
    agent: tuple[subprocess.Popen[bytes], str], fake_openai: FakeOpenAI
) -> None:
    process, base = agent
    fake_openai.behaviour.chunk_delay_seconds = 0.25  # an answer takes about four seconds
    ws_url = base.replace("http", "ws") + "/v1/ws/chat"
    async with connect(ws_url) as answering, connect(ws_url) as spare:
        flight = asyncio.create_task(answers_in_flight(base, answering))
        await asyncio.sleep(1.0)  # every answer has started streaming
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        await spare.send(json.dumps({"message": QUESTION}))  # a new turn while draining
        with pytest.raises(ConnectionClosed) as refused:
            await asyncio.wait_for(spare.recv(), timeout=GRACE_SECONDS)
        assert await new_work_is_refused(base)
        ws_kinds, sse, openai_chunks, rest = await asyncio.wait_for(flight, GRACE_SECONDS)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(answering.recv(), timeout=GRACE_SECONDS)
    assert refused.value.rcvd is not None
    assert (refused.value.rcvd.code, refused.value.rcvd.reason) == (1001, ws.DRAINING_REASON)
    assert ws_kinds[-2:] == ["citations", "done"]
    assert ws_kinds.count("token") > 3
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert json.loads(sse[-1][6:])["incomplete"] is False
    assert openai_chunks[-1] == "data: [DONE]"
    assert (rest.status_code, rest.json()["incomplete"]) == (200, False)
    assert rest.json()["answer"].endswith("[1]")
    exit_code = await asyncio.to_thread(process.wait, GRACE_SECONDS + 5)
    assert exit_code in (0, -signal.SIGTERM)
