"""The OpenAI-compatible endpoint, driven by the official openai client over real HTTP.

The agent runs under real uvicorn on the real embedded PostgreSQL; with the
openai provider it in turn calls the fake OpenAI server through the SDK, so
the whole chain client → agent → provider speaks the real protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from ragagent.main import create_app
from tests.support.chat_app import ClientFactory, LiveAgent, chat_settings, ingest, insert_key
from tests.support.fake_openai import FakeOpenAI, ServerThread

pytestmark = [pytest.mark.db, pytest.mark.slow]

DOC = "# Backups\n\nRagAgent backs up PostgreSQL nightly with pg_dump to object storage."
QUESTION = "How are backups of PostgreSQL made?"


def openai_client(agent: LiveAgent) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{agent.url}/v1", api_key=agent.key, max_retries=0)


def seed(agent: LiveAgent) -> None:
    document = {"external_id": "backups", "title": "Backups", "text": DOC}
    response = httpx.post(
        f"{agent.url}/v1/documents", json=document, headers=agent.headers, timeout=30
    )
    assert response.status_code in (200, 201), response.text


@pytest.fixture
def agent(live_agent_factory: Callable[..., LiveAgent]) -> LiveAgent:
    live = live_agent_factory()
    seed(live)
    return live


def test_openai_client_gets_a_cited_answer(agent: LiveAgent) -> None:
    completion = openai_client(agent).chat.completions.create(
        model="ragagent", messages=[{"role": "user", "content": QUESTION}]
    )
    answer = completion.choices[0].message.content or ""
    assert "pg_dump" in answer
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra or {}
    assert extra["citations"][0]["external_id"] == "backups"
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0


def test_openai_client_streams_chunks_with_citations_and_usage(agent: LiveAgent) -> None:
    stream = openai_client(agent).chat.completions.create(
        model="ragagent",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "pg_dump" in text
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    assert (final.model_extra or {})["citations"][0]["external_id"] == "backups"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_earlier_messages_are_history_and_metadata_continues_a_conversation(
    agent: LiveAgent,
) -> None:
    client = openai_client(agent)
    first = client.chat.completions.create(
        model="ragagent",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": QUESTION},
        ],
    )
    conversation_id = (first.model_extra or {})["conversation_id"]
    client.chat.completions.create(
        model="ragagent",
        messages=[{"role": "user", "content": "And where do they go?"}],
        metadata={"conversation_id": conversation_id},
    )
    path = f"{agent.url}/v1/conversations/{conversation_id}"
    detail = httpx.get(path, headers=agent.headers, timeout=30).json()
    assert [m["content"] for m in detail["messages"] if m["role"] == "user"] == [
        QUESTION,
        "And where do they go?",
    ]


def test_models_lists_the_agent(agent: LiveAgent) -> None:
    assert [m.id for m in openai_client(agent).models.list()] == ["ragagent"]


def test_a_request_without_a_user_message_is_a_422(agent: LiveAgent) -> None:
    with pytest.raises(openai.UnprocessableEntityError):
        openai_client(agent).chat.completions.create(
            model="ragagent", messages=[{"role": "system", "content": "nothing to answer"}]
        )


def provider_settings(fake: FakeOpenAI, **overrides: Any) -> dict[str, Any]:
    return {
        "llm_provider": "openai",
        "openai_base_url": f"{fake.url}/v1",
        "openai_api_key": "sk-test",
        "chat_model": "fake-model",
        "llm_retry_backoff_seconds": 0.01,
        **overrides,
    }


def test_agent_answers_through_the_openai_provider(
    live_agent_factory: Callable[..., LiveAgent], fake_openai: FakeOpenAI
) -> None:
    live = live_agent_factory(**provider_settings(fake_openai))
    seed(live)
    stream = openai_client(live).chat.completions.create(
        model="ragagent", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("According to the knowledge base, ")
    assert text.endswith("RagAgent backs up PostgreSQL nightly with pg_dump to object storage. [1]")
    sent = fake_openai.behaviour.requests[0]
    assert '<document index="1" title="Backups">\n' in sent["messages"][-2]["content"]
    assert sent["messages"][-1] == {"role": "user", "content": QUESTION}


def test_every_chunk_of_a_stream_carries_the_same_created_time(
    live_agent_factory: Callable[..., LiveAgent], fake_openai: FakeOpenAI
) -> None:
    # The role chunk goes out before the provider answers; the delay puts the provider's
    # tokens past the next second boundary, where a per-chunk clock would differ.
    live = live_agent_factory(**provider_settings(fake_openai))
    seed(live)
    fake_openai.behaviour.delay_seconds = 1.1
    stream = openai_client(live).chat.completions.create(
        model="ragagent", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert len(chunks) > 3
    assert {chunk.created for chunk in chunks} == {chunks[0].created}
    assert {chunk.id for chunk in chunks} == {chunks[0].id}


def test_provider_outage_gives_a_degraded_answer_and_the_turn_is_kept(
    chat_app_factory: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = chat_app_factory(**provider_settings(fake_openai, llm_max_retries=1))
    ingest(client, external_id="backups", title="Backups", text=DOC)
    fake_openai.behaviour.fail_with = [500, 503]
    response = client.post("/v1/chat", json={"message": QUESTION})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["degraded"], body["incomplete"]) == (True, False)
    assert "pg_dump" in body["answer"]  # the extractive answer, from the knowledge base
    assert len(fake_openai.behaviour.requests) == 2
    conversations = client.get("/v1/conversations").json()["conversations"]
    detail = client.get(f"/v1/conversations/{conversations[0]['id']}").json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]


def test_open_breaker_answers_degraded_without_calling_the_provider(
    chat_app_factory: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    # The knowledge base is empty: a zero threshold keeps the turn from being declined
    # (a declined turn calls no LLM at all).
    client = chat_app_factory(
        **provider_settings(fake_openai, llm_max_retries=0, llm_breaker_failures=2),
        answer_min_similarity=0.0,
    )
    fake_openai.behaviour.fail_with = [500, 500, 500]
    for _ in range(3):
        response = client.post("/v1/chat", json={"message": "anyone there?"})
        assert (response.status_code, response.json()["degraded"]) == (200, True)
    assert len(fake_openai.behaviour.requests) == 2


def test_openai_client_works_out_of_the_box_until_auth_is_configured(
    pg_url: str, tmp_path: Path
) -> None:
    """The SDK always sends some api_key: with no auth configured (development,
    `make run`) it is ignored; once a real key exists, the same client gets 401."""
    settings = chat_settings(pg_url, tmp_path, auth_disabled=False)
    with ServerThread(create_app(settings), lifespan="on") as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="anything", max_retries=0)
        messages: Any = [{"role": "user", "content": QUESTION}]
        completion = client.chat.completions.create(model="ragagent", messages=messages)
        assert completion.choices[0].message.content
        asyncio.run(insert_key(settings, "owner"))
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="ragagent", messages=messages)
