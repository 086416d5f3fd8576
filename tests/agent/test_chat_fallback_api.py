"""LLM fallback through the app: every transport says when an answer is degraded or
incomplete, a provider that fails mid-answer leaves a stored, flagged answer, and
/readyz turns 503 only when the background probe finds no provider at all."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.chat_app import ClientFactory, ingest
from tests.support.fake_openai import FakeOpenAI, free_port

pytestmark = [pytest.mark.db, pytest.mark.slow]

DOC = "# Backups\n\nRagAgent backs up PostgreSQL nightly with pg_dump to object storage."
QUESTION = "How are backups of PostgreSQL made?"


def refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


def providers(primary: str, fallback: str, **overrides: Any) -> dict[str, Any]:
    return {
        "llm_provider": "openai",
        "openai_base_url": primary,
        "openai_api_key": "sk-primary",
        "chat_model": "fake-model",
        "llm_fallback_1_base_url": fallback,
        "llm_retry_backoff_seconds": 0.01,
        "llm_max_retries": 0,
        **overrides,
    }


def sse_events(client: TestClient, path: str, body: dict[str, Any]) -> list[Any]:
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


def ws_done(client: TestClient) -> dict[str, Any]:
    with client.websocket_connect("/v1/ws/chat") as ws:
        ws.send_json({"message": QUESTION})
        while True:
            frame: dict[str, Any] = ws.receive_json()
            if frame["type"] in ("done", "error"):
                return frame


def completion(client: TestClient, *, stream: bool) -> dict[str, Any]:
    body = {"model": "ragagent", "messages": [{"role": "user", "content": QUESTION}]}
    if not stream:
        response = client.post("/v1/chat/completions", json=body)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result
    chunks = sse_events(client, "/v1/chat/completions", {**body, "stream": True})
    return next(chunk for chunk in chunks if chunk.get("choices", [{}])[0].get("finish_reason"))


def test_every_transport_marks_the_extractive_answer_degraded_when_all_providers_fail(
    chat_app_factory: ClientFactory,
) -> None:
    client = chat_app_factory(**providers(refused_url(), refused_url()))
    ingest(client, external_id="backups", title="Backups", text=DOC)
    rest = client.post("/v1/chat", json={"message": QUESTION})
    assert rest.status_code == 200, rest.text
    assert (rest.json()["degraded"], rest.json()["incomplete"]) == (True, False)
    assert "pg_dump" in rest.json()["answer"]
    done = sse_events(client, "/v1/chat", {"message": QUESTION, "stream": True})[-1]
    assert (done["degraded"], done["incomplete"]) == (True, False)
    frame = ws_done(client)
    assert (frame["type"], frame["degraded"], frame["incomplete"]) == ("done", True, False)
    assert completion(client, stream=False)["degraded"] is True
    assert completion(client, stream=True)["degraded"] is True


def test_the_fallback_answers_and_nothing_is_marked_when_the_primary_is_down(
    chat_app_factory: ClientFactory, second_openai: FakeOpenAI
) -> None:
    client = chat_app_factory(**providers(refused_url(), f"{second_openai.url}/v1"))
    ingest(client, external_id="backups", title="Backups", text=DOC)
    body = client.post("/v1/chat", json={"message": QUESTION}).json()
    assert body["answer"].startswith("According to the knowledge base")
    assert (body["degraded"], body["incomplete"]) == (False, False)
    assert ws_done(client)["degraded"] is False


def test_an_answer_broken_off_mid_stream_is_stored_and_shown_incomplete(
    chat_app_factory: ClientFactory, fake_openai: FakeOpenAI, second_openai: FakeOpenAI
) -> None:
    client = chat_app_factory(**providers(f"{fake_openai.url}/v1", f"{second_openai.url}/v1"))
    ingest(client, external_id="backups", title="Backups", text=DOC)
    fake_openai.behaviour.break_after_chunks = 2
    events = sse_events(client, "/v1/chat", {"message": QUESTION, "stream": True})
    tokens = "".join(event["text"] for event in events if "text" in event)
    assert tokens == "According to "
    assert (events[-1]["degraded"], events[-1]["incomplete"]) == (True, True)
    assert second_openai.behaviour.requests == []
    conversation = events[-1]["conversation_id"]
    messages = client.get(f"/v1/conversations/{conversation}").json()["messages"]
    assert [(m["role"], m["incomplete"]) for m in messages] == [
        ("user", False),
        ("assistant", True),
    ]
    assert messages[1]["content"] == tokens


def readiness_llm(client: TestClient) -> tuple[int, str]:
    response = client.get("/readyz")
    return response.status_code, response.json()["checks"]["llm"]


def wait_for_llm_check(client: TestClient, expected: str) -> tuple[int, str]:
    deadline = time.monotonic() + 10
    while (found := readiness_llm(client))[1] != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def test_readiness_fails_only_when_no_provider_is_reachable(
    chat_app_factory: ClientFactory, second_openai: FakeOpenAI
) -> None:
    fast = {"llm_probe_interval_seconds": 0.1}
    one_up = chat_app_factory(**providers(refused_url(), f"{second_openai.url}/v1", **fast))
    assert wait_for_llm_check(one_up, "ok") == (200, "ok")
    none_up = chat_app_factory(**providers(refused_url(), refused_url(), **fast))
    down = "none of 2 LLM provider(s) reachable"
    assert wait_for_llm_check(none_up, down) == (503, down)
