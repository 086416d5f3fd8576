"""Follow-ups rewritten by the LLM: a second question that names nothing itself (and that
the deterministic expansion does not take for a follow-up) is rewritten into a standalone
query before retrieval; the real app, PostgreSQL, MiniLM and the real openai SDK against
the local fake server."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragagent.core.models import ChatTurn
from ragagent.rag import followup, rewrite
from ragagent.rag.extractive import ExtractiveLLM
from tests.agent.test_chat_followup import ACME, FIRST, ZEBRA
from tests.support.chat_app import ClientFactory, ingest
from tests.support.fake_openai import FakeOpenAI

SECOND = "How many days does the refund window last?"
STANDALONE = "How many days does the Zebra Corp refund window last?"


def test_the_rewrite_prompt_carries_the_conversation_and_the_question() -> None:
    history = [ChatTurn("user", FIRST), ChatTurn("assistant", "Accounting\n software [1].")]
    system, user = rewrite.build_rewrite_messages(SECOND, history)
    assert system == {"role": "system", "content": rewrite.SYSTEM_PROMPT}
    assert user["content"] == (
        f"Conversation:\nuser: {FIRST}\nassistant: Accounting software [1].\n\n"
        f"Last question: {SECOND}"
    )


def test_a_reply_that_is_no_query_is_refused() -> None:
    assert rewrite.clean_rewrite(f' "{STANDALONE}"\n') == STANDALONE
    assert rewrite.clean_rewrite("  \n") is None
    assert rewrite.clean_rewrite("word " * rewrite.MAX_QUERY_CHARS) is None


async def test_without_a_model_the_deterministic_expansion_is_used() -> None:
    history = [ChatTurn("user", FIRST)]
    follow_up = "And their refund window?"
    query = await rewrite.search_query(
        ExtractiveLLM(), follow_up, history, use_llm=True, timeout_seconds=1
    )
    assert query == rewrite.SearchQuery(
        followup.build_search_query(follow_up, history), "expansion"
    )
    first = await rewrite.search_query(ExtractiveLLM(), FIRST, [], use_llm=True, timeout_seconds=1)
    assert first == rewrite.SearchQuery(FIRST, "none")


def _client(factory: ClientFactory, fake: FakeOpenAI, **overrides: Any) -> TestClient:
    client = factory(
        llm_provider="openai",
        openai_base_url=f"{fake.url}/v1",
        openai_api_key="sk-test",
        chat_model="fake-model",
        **overrides,
    )
    ingest(client, external_id="zebra", title="Zebra Corp", text=ZEBRA)
    ingest(client, external_id="acme", title="Acme Inc", text=ACME)
    return client


def _two_turns(client: TestClient) -> dict[str, Any]:
    first = client.post("/v1/chat", json={"message": FIRST}).json()
    follow_up = {"message": SECOND, "conversation_id": first["conversation_id"]}
    second: dict[str, Any] = client.post("/v1/chat", json=follow_up).json()
    return second


@pytest.mark.db
@pytest.mark.slow
def test_the_llm_rewrite_finds_the_company_the_first_question_named(
    chat_app_factory: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.rewrites = {SECOND: STANDALONE}
    client = _client(chat_app_factory, fake_openai)
    assert not followup.is_followup(SECOND)  # the expansion alone would not help
    second = _two_turns(client)
    assert second["citations"][0]["external_id"] == "zebra"
    first_turn, rewrite_call, answer_call = fake_openai.behaviour.requests
    assert first_turn["stream"] is True
    assert "stream" not in rewrite_call
    assert rewrite_call["messages"][0]["content"] == rewrite.SYSTEM_PROMPT
    assert f"user: {FIRST}" in rewrite_call["messages"][1]["content"]
    assert rewrite_call["max_tokens"] == rewrite.MAX_TOKENS
    # The answerer still gets the question as the user asked it.
    assert answer_call["messages"][-1] == {"role": "user", "content": SECOND}


@pytest.mark.db
@pytest.mark.slow
def test_with_the_rewrite_off_the_same_follow_up_finds_the_other_company(
    chat_app_factory: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.rewrites = {SECOND: STANDALONE}
    second = _two_turns(_client(chat_app_factory, fake_openai, followup_rewrite=False))
    assert second["citations"][0]["external_id"] == "acme"
    assert all(request["stream"] for request in fake_openai.behaviour.requests)


@pytest.mark.db
@pytest.mark.slow
def test_a_failed_rewrite_falls_back_and_the_turn_is_still_answered(
    chat_app_factory: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = _client(chat_app_factory, fake_openai)
    first = client.post("/v1/chat", json={"message": FIRST}).json()
    fake_openai.behaviour.fail_with = [500]  # the rewrite call, which is not retried
    follow_up = {"message": SECOND, "conversation_id": first["conversation_id"]}
    response = client.post("/v1/chat", json=follow_up)
    assert response.status_code == 200
    assert response.json()["answer"].startswith("According to the knowledge base")
    assert len(fake_openai.behaviour.requests) == 3
