"""A client that leaves mid-answer: over SSE, WebSocket and the OpenAI-compatible stream,
the answer generated so far is stored and marked incomplete, and the turn is still charged
(what was generated is recorded and its token reservation freed).

The agent runs under real uvicorn and answers through the fake OpenAI server, which
streams slowly, so the client can hang up half-way through a real answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect

from tests.support.chat_app import LiveAgent
from tests.support.fake_openai import FakeOpenAI

pytestmark = [pytest.mark.db, pytest.mark.slow]

DOC = "# Backups\n\nRagAgent backs up PostgreSQL nightly with pg_dump to object storage."
QUESTION = "How are backups of PostgreSQL made"
PIECES_BEFORE_LEAVING = 3
TOTALS = """
SELECT (SELECT coalesce(sum(tokens_in), 0) FROM token_usage) AS tokens_in,
       (SELECT coalesce(sum(tokens_out), 0) FROM token_usage) AS tokens_out,
       (SELECT count(*) FROM token_reservations) AS open_reservations
"""


@pytest.fixture
def agent(live_agent_factory: Callable[..., LiveAgent], fake_openai: FakeOpenAI) -> LiveAgent:
    live = live_agent_factory(
        llm_provider="openai",
        openai_base_url=f"{fake_openai.url}/v1",
        openai_api_key="sk-test",
        chat_model="fake-model",
    )
    document = {"external_id": "backups", "title": "Backups", "text": DOC}
    response = httpx.post(f"{live.url}/v1/documents", json=document, headers=live.headers)
    assert response.status_code in (200, 201), response.text
    fake_openai.behaviour.chunk_delay_seconds = 0.3
    return live


def stored_answer(agent: LiveAgent, question: str) -> dict[str, Any]:
    """The assistant message of the conversation ``question`` started, once it is stored."""
    deadline = time.monotonic() + 15
    with httpx.Client(base_url=agent.url, headers=agent.headers) as client:
        while time.monotonic() < deadline:
            listed = client.get("/v1/conversations", params={"limit": 100}).json()
            found = [c for c in listed["conversations"] if c["title"] == question]
            if found:
                messages = client.get(f"/v1/conversations/{found[0]['id']}").json()["messages"]
                if len(messages) == 2:
                    answer: dict[str, Any] = messages[1]
                    return answer
            time.sleep(0.1)
    raise AssertionError(f"no answer stored for {question!r}")


def assert_partial(answer: dict[str, Any]) -> None:
    assert answer["role"] == "assistant"
    assert answer["incomplete"] is True
    assert answer["content"].startswith("According to")
    assert not answer["content"].endswith("[1]")  # the full answer ends with its citation
    assert answer["completion_tokens"] > 0  # what was generated is charged


async def leave_sse(agent: LiveAgent, path: str, body: dict[str, Any]) -> None:
    async with (
        httpx.AsyncClient(base_url=agent.url, headers=agent.headers, timeout=30) as client,
        client.stream("POST", path, json=body) as response,
    ):
        assert response.status_code == 200
        pieces = 0
        async for line in response.aiter_lines():
            pieces += '"text"' in line or '"content": "' in line
            if pieces >= PIECES_BEFORE_LEAVING:
                return  # leaving the block closes the connection mid-answer


def test_a_client_leaving_an_sse_answer_leaves_it_stored_incomplete(agent: LiveAgent) -> None:
    question = f"{QUESTION} (sse)?"
    asyncio.run(leave_sse(agent, "/v1/chat", {"message": question, "stream": True}))
    assert_partial(stored_answer(agent, question))


def test_a_client_leaving_an_openai_stream_leaves_it_stored_incomplete(agent: LiveAgent) -> None:
    question = f"{QUESTION} (openai)?"
    body = {
        "model": "ragagent",
        "stream": True,
        "messages": [{"role": "user", "content": question}],
    }
    asyncio.run(leave_sse(agent, "/v1/chat/completions", body))
    assert_partial(stored_answer(agent, question))


async def leave_websocket(agent: LiveAgent, question: str) -> None:
    url = agent.url.replace("http", "ws", 1) + "/v1/ws/chat"
    async with connect(url, additional_headers=agent.headers) as websocket:
        await websocket.send(f'{{"message": "{question}"}}')
        for _ in range(PIECES_BEFORE_LEAVING):
            assert '"token"' in str(await websocket.recv())


def test_a_client_leaving_a_websocket_answer_leaves_it_stored_incomplete(
    agent: LiveAgent,
) -> None:
    question = f"{QUESTION} (ws)?"
    asyncio.run(leave_websocket(agent, question))
    assert_partial(stored_answer(agent, question))


def test_a_finished_answer_is_not_marked_incomplete(agent: LiveAgent) -> None:
    question = f"{QUESTION} (whole)?"
    with httpx.Client(base_url=agent.url, headers=agent.headers, timeout=30) as client:
        response = client.post("/v1/chat", json={"message": question})
    assert response.json()["incomplete"] is False
    answer = stored_answer(agent, question)
    assert answer["incomplete"] is False
    assert answer["content"].endswith("[1]")


def settled_totals(pg_url: str) -> dict[str, int]:
    """Tokens recorded, once the departed turn has settled (no reservation left open)."""
    deadline = time.monotonic() + 15
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(TOTALS).fetchone()
            assert row is not None
            totals = {"in": int(row[0]), "out": int(row[1]), "open": int(row[2])}
            if totals["open"] == 0 and totals["out"] > 0:
                return totals
            time.sleep(0.1)
    raise AssertionError(f"the departed turn was not settled: {totals}")


def test_leaving_an_sse_answer_mid_stream_is_charged(agent: LiveAgent, pg_url: str) -> None:
    asyncio.run(leave_sse(agent, "/v1/chat", {"message": f"{QUESTION}?", "stream": True}))
    totals = settled_totals(pg_url)
    assert totals["in"] > 0
    assert totals["out"] >= PIECES_BEFORE_LEAVING - 1  # at least the text already sent


def test_leaving_an_openai_stream_mid_answer_is_charged(agent: LiveAgent, pg_url: str) -> None:
    body = {
        "model": "ragagent",
        "stream": True,
        "messages": [{"role": "user", "content": f"{QUESTION}?"}],
    }
    asyncio.run(leave_sse(agent, "/v1/chat/completions", body))
    assert settled_totals(pg_url)["in"] > 0


def test_leaving_a_websocket_answer_mid_stream_is_charged(agent: LiveAgent, pg_url: str) -> None:
    asyncio.run(leave_websocket(agent, f"{QUESTION}?"))
    assert settled_totals(pg_url)["in"] > 0
