"""Chat WebSockets are bounded: a few per caller, and none left idle.

Real WebSocket clients (the ``websockets`` library) against the agent under real uvicorn
on the real embedded PostgreSQL, authenticated with a real API key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.agent.test_chat_openai_compat import provider_settings
from tests.support.chat_app import LiveAgent
from tests.support.fake_openai import FakeOpenAI

pytestmark = [pytest.mark.db, pytest.mark.slow]


def open_socket(agent: LiveAgent) -> ClientConnection:
    url = agent.url.replace("http://", "ws://") + "/v1/ws/chat"
    offered = [Subprotocol("ragagent"), Subprotocol(f"bearer.{agent.key}")]
    return connect(url, subprotocols=offered, open_timeout=30)


def closed_by_server(ws: ClientConnection, within: float) -> tuple[int, str]:
    """The close code and reason the server sent within ``within`` seconds."""
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=within)
    assert closed.value.rcvd is not None, "the server did not send a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def ask(ws: ClientConnection, message: str) -> list[dict[str, object]]:
    ws.send(json.dumps({"message": message}))
    frames: list[dict[str, object]] = []
    while not frames or frames[-1]["type"] not in ("done", "error"):
        frames.append(json.loads(ws.recv(timeout=60)))
    return frames


def test_one_socket_over_the_cap_is_closed_with_1008_and_a_reason(
    live_agent_factory: Callable[..., LiveAgent],
) -> None:
    agent = live_agent_factory(ws_max_per_principal=2)
    with open_socket(agent) as second:
        with open_socket(agent) as first, open_socket(agent) as third:
            code, reason = closed_by_server(third, within=10)
            assert code == 1008
            assert reason == "at most 2 open WebSockets per caller (RAGAGENT_WS_MAX_PER_PRINCIPAL)"
            assert ask(second, "still served?")[-1]["type"] == "done"
            first.close()
        time.sleep(0.5)  # the server counts the socket as gone once its handler ends
        with open_socket(agent) as fourth:
            assert ask(fourth, "a free slot again?")[-1]["type"] == "done"


def test_an_idle_socket_is_closed_with_1000_and_a_reason(
    live_agent_factory: Callable[..., LiveAgent],
) -> None:
    agent = live_agent_factory(ws_idle_timeout_seconds=1)
    with open_socket(agent) as ws:
        started = time.monotonic()
        code, reason = closed_by_server(ws, within=10)
    assert (code, reason) == (1000, "idle for 1 seconds")
    assert 0.9 < time.monotonic() - started < 5


def test_a_socket_streaming_a_slow_answer_is_not_idle(
    live_agent_factory: Callable[..., LiveAgent], fake_openai: FakeOpenAI
) -> None:
    agent = live_agent_factory(**provider_settings(fake_openai), ws_idle_timeout_seconds=1)
    fake_openai.behaviour.delay_seconds = 2.5
    with open_socket(agent) as ws:
        frames = ask(ws, "a question the model answers slowly")
        assert frames[-1]["type"] == "done"
        assert closed_by_server(ws, within=10) == (1000, "idle for 1 seconds")
