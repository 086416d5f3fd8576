"""Graceful shutdown of a real ``ragagent serve`` process on SIGTERM.

An SSE chat is in flight (the fake LLM holds its answer back) and a WebSocket
is open when SIGTERM arrives: the stream must complete, the WebSocket must be
closed with 1001, new connections must be refused, and the process must exit
within the grace period.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.fake_openai import FakeOpenAI, free_port

pytestmark = pytest.mark.slow

GRACE_SECONDS = 10
LLM_DELAY_SECONDS = 3.0


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
        client.stream("POST", "/v1/chat", json={"message": "hello", "stream": True}) as stream,
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
