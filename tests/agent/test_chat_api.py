"""The chat pipeline end to end: real app, real embedded PostgreSQL + pgvector, real MiniLM."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragagent.rag import relevance
from tests.support.chat_app import ClientFactory, ingest

pytestmark = [pytest.mark.db, pytest.mark.slow]

POLICY = (
    "# Refund policy\n\nZebra Corp refunds unused licences within 45 days of purchase. "
    "Refunds go back to the original payment card.\n\n"
    "# Office\n\nThe Zebra Corp office is in Lisbon."
)


def ask(client: TestClient, message: str, **extra: Any) -> Any:
    return client.post("/v1/chat", json={"message": message, **extra})


@pytest.fixture
def kb_client(chat_client: TestClient) -> TestClient:
    ingest(chat_client, external_id="policy-1", title="Zebra refunds", text=POLICY)
    return chat_client


def test_chat_answer_cites_the_ingested_document(kb_client: TestClient) -> None:
    response = ask(kb_client, "How many days do I have to get a refund for Zebra licences?")
    assert response.status_code == 200, response.text
    body = response.json()
    assert "45 days" in body["answer"]
    cited = {c["external_id"] for c in body["citations"]}
    assert cited == {"policy-1"}
    assert f"[{body['citations'][0]['index']}]" in body["answer"]
    assert body["usage"]["total_tokens"] > 0


def test_a_conversation_keeps_its_turns_with_citations(kb_client: TestClient) -> None:
    first = ask(kb_client, "Where is the Zebra Corp office?").json()
    second = ask(kb_client, "And refunds?", conversation_id=first["conversation_id"]).json()
    assert second["conversation_id"] == first["conversation_id"]
    detail = kb_client.get(f"/v1/conversations/{first['conversation_id']}").json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant", "user", "assistant"]
    assert detail["messages"][0]["content"] == "Where is the Zebra Corp office?"
    assert detail["messages"][1]["citations"][0]["external_id"] == "policy-1"
    assert detail["title"] == "Where is the Zebra Corp office?"
    listed = kb_client.get("/v1/conversations").json()["conversations"]
    assert [c["id"] for c in listed] == [first["conversation_id"]]


def test_answer_says_plainly_when_the_knowledge_base_is_empty(chat_client: TestClient) -> None:
    body = ask(chat_client, "What is the capital of Mongolia?").json()
    assert body["answer"] == relevance.DECLINE_ANSWER
    assert body["declined"] is True
    assert body["citations"] == []


def test_sse_streams_tokens_then_citations_then_done(kb_client: TestClient) -> None:
    question = {"message": "Where is the Zebra Corp office?", "stream": True}
    with kb_client.stream("POST", "/v1/chat", json=question) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse("".join(response.iter_text()))
    kinds = [kind for kind, _ in events]
    assert kinds[-2:] == ["citations", "done"]
    assert kinds.count("token") > 3
    answer = "".join(data["text"] for kind, data in events if kind == "token")
    assert "Lisbon" in answer
    assert events[-2][1]["citations"][0]["external_id"] == "policy-1"
    assert events[-1][1]["usage"]["completion_tokens"] > 0


def parse_sse(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"message": ""}, 422),
        ({"message": "   "}, 422),
        ({"message": "x" * 9000}, 422),
        ({"message": 42}, 422),
        ({}, 422),
        ({"message": "hi", "conversation_id": "not-a-uuid"}, 422),
        ({"message": "hi", "conversation_id": "3f1c1d8e-2f0a-4c41-9d55-0a8f4f1e9b10"}, 404),
    ],
)
def test_bad_chat_requests_get_clear_client_errors(
    chat_client: TestClient, body: dict[str, Any], status: int
) -> None:
    response = chat_client.post("/v1/chat", json=body)
    assert response.status_code == status
    assert response.json()["detail"]


def test_malformed_json_is_a_422(chat_client: TestClient) -> None:
    response = chat_client.post(
        "/v1/chat", content=b'{"message": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_oversized_message_error_names_the_limit(chat_client: TestClient) -> None:
    response = ask(chat_client, "y" * 8193)
    assert "8192" in response.json()["detail"]


def test_a_full_conversation_refuses_new_turns(chat_app_factory: ClientFactory) -> None:
    client = chat_app_factory(max_turns_per_conversation=2)
    first = ask(client, "hello there").json()
    refused = ask(client, "again", conversation_id=first["conversation_id"])
    assert refused.status_code == 409
    assert "limit" in refused.json()["detail"]


def test_users_only_see_their_own_conversations(chat_app_factory: ClientFactory) -> None:
    from tests.support.chat_app import create_key

    client = chat_app_factory(auth_disabled=False)
    alice = {"Authorization": f"Bearer {create_key(client, 'alice')}"}
    bob = {"Authorization": f"Bearer {create_key(client, 'bob')}"}
    mine = client.post("/v1/chat", json={"message": "alice's question"}, headers=alice).json()
    path = f"/v1/conversations/{mine['conversation_id']}"
    assert client.get(path, headers=bob).status_code == 404
    assert client.delete(path, headers=bob).status_code == 404
    continued = {"message": "sneaky", "conversation_id": mine["conversation_id"]}
    assert client.post("/v1/chat", json=continued, headers=bob).status_code == 404
    assert client.get("/v1/conversations", headers=bob).json()["conversations"] == []
    assert client.get(path, headers=alice).status_code == 200
    assert client.delete(path, headers=alice).status_code == 204
    assert client.get(path, headers=alice).status_code == 404


def test_chat_requires_credentials_once_keys_exist(chat_app_factory: ClientFactory) -> None:
    from tests.support.chat_app import create_key

    client = chat_app_factory(auth_disabled=False)
    create_key(client, "carol")
    assert ask(client, "hello").status_code == 401
