"""Saying "I don't know": when nothing retrieved is relevant enough, every interface
declines, cites nothing and says so with ``declined``; the real app, PostgreSQL and MiniLM."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragagent.rag import relevance
from tests.agent.test_chat_api import parse_sse
from tests.support.chat_app import ClientFactory, ingest
from tests.support.fake_openai import FakeOpenAI

pytestmark = [pytest.mark.db, pytest.mark.slow]

POLICY = (
    "# Refund policy\n\nZebra Corp refunds unused licences within 45 days of purchase. "
    "Refunds go back to the original payment card."
)
UNRELATED = "How long should I boil an egg for a soft yolk?"
RELATED = "How many days do I have to get a refund for Zebra licences?"


def _with_policy(client: TestClient) -> TestClient:
    ingest(client, external_id="policy-1", title="Zebra refunds", text=POLICY)
    return client


@pytest.fixture
def kb_client(chat_client: TestClient) -> TestClient:
    return _with_policy(chat_client)


def test_an_unrelated_question_is_declined_without_citations(kb_client: TestClient) -> None:
    body = kb_client.post("/v1/chat", json={"message": UNRELATED}).json()
    assert body["declined"] is True
    assert body["answer"] == relevance.DECLINE_ANSWER
    assert body["citations"] == []
    assert body["usage"]["total_tokens"] == 0
    stored = kb_client.get(f"/v1/conversations/{body['conversation_id']}").json()
    assert stored["messages"][1]["content"] == relevance.DECLINE_ANSWER


def test_a_related_question_is_answered(kb_client: TestClient) -> None:
    body = kb_client.post("/v1/chat", json={"message": RELATED}).json()
    assert body["declined"] is False
    assert "45 days" in body["answer"]
    assert body["citations"]


def test_a_zero_threshold_never_declines(chat_app_factory: ClientFactory) -> None:
    client = _with_policy(chat_app_factory(answer_min_similarity=0.0))
    body = client.post("/v1/chat", json={"message": UNRELATED}).json()
    assert body["declined"] is False
    assert body["citations"]


def test_sse_ends_a_declined_answer_with_no_citations_and_the_flag(kb_client: TestClient) -> None:
    with kb_client.stream("POST", "/v1/chat", json={"message": UNRELATED, "stream": True}) as r:
        events = parse_sse("".join(r.iter_text()))
    by_kind = dict(events)
    assert by_kind["citations"]["citations"] == []
    assert by_kind["done"]["declined"] is True
    tokens = "".join(data["text"] for kind, data in events if kind == "token")
    assert tokens == relevance.DECLINE_ANSWER


def test_websocket_done_frame_carries_the_flag(kb_client: TestClient) -> None:
    with kb_client.websocket_connect("/v1/ws/chat") as ws:
        ws.send_json({"message": UNRELATED})
        frames = _frames_until_done(ws)
    assert frames[-1]["declined"] is True
    assert [f["citations"] for f in frames if f["type"] == "citations"] == [[]]


def _frames_until_done(ws: Any) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] not in ("done", "error"):
        frames.append(ws.receive_json())
    return frames


def test_openai_compatible_replies_carry_the_flag(kb_client: TestClient) -> None:
    request = {"model": "ragagent", "messages": [{"role": "user", "content": UNRELATED}]}
    whole = kb_client.post("/v1/chat/completions", json=request).json()
    assert whole["declined"] is True
    assert whole["citations"] == []
    assert whole["choices"][0]["message"]["content"] == relevance.DECLINE_ANSWER
    with kb_client.stream("POST", "/v1/chat/completions", json={**request, "stream": True}) as r:
        lines = [line[6:] for line in r.iter_lines() if line.startswith("data: {")]
    final = json.loads(lines[-1])
    assert final["declined"] is True
    assert final["citations"] == []


def test_the_llm_is_not_called_for_a_declined_question(
    chat_app_factory: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = _with_policy(
        chat_app_factory(
            llm_provider="openai",
            openai_base_url=f"{fake_openai.url}/v1",
            openai_api_key="sk-test",
            chat_model="fake-model",
        )
    )
    declined = client.post("/v1/chat", json={"message": UNRELATED}).json()
    assert declined["declined"] is True
    assert fake_openai.behaviour.requests == []
    answered = client.post("/v1/chat", json={"message": RELATED}).json()
    assert answered["declined"] is False
    assert len(fake_openai.behaviour.requests) == 1
