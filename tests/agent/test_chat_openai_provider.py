"""OpenAIChatLLM: the real openai SDK against the local fake OpenAI server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ragagent.core import errors
from ragagent.core.config import Settings
from ragagent.core.metrics import REGISTRY
from ragagent.rag.fallback import FallbackLLM, create_llm
from ragagent.rag.llm import OpenAIChatLLM, backoff_delay
from ragagent.rag.types import AnswerDelta, RetrievedChunk
from tests.support.fake_openai import FakeOpenAI

CHUNKS = [
    RetrievedChunk(
        chunk_id=7,
        document_id=3,
        external_id="kb-1",
        title="Storage",
        text="RagAgent keeps vectors in pgvector. It also uses full-text search.",
        score=0.9,
        ordinal=0,
    )
]


def settings_for(fake: FakeOpenAI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_provider": "openai",
        "openai_base_url": f"{fake.url}/v1",
        "openai_api_key": "sk-test",
        "chat_model": "fake-model",
        "llm_retry_backoff_seconds": 0.01,
        "llm_max_retries": 2,
        "llm_breaker_failures": 2,
        "llm_breaker_cooldown_seconds": 60,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def llm(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIChatLLM]:
    answerer = OpenAIChatLLM.from_settings(settings_for(fake_openai))
    yield answerer
    await answerer.aclose()


async def collect(
    answerer: OpenAIChatLLM, question: str = "Where are vectors?"
) -> list[AnswerDelta]:
    return [d async for d in answerer.stream(question=question, history=[], chunks=CHUNKS)]


async def drain_into(received: list[str], answerer: OpenAIChatLLM) -> None:
    async for delta in answerer.stream(question="q", history=[], chunks=CHUNKS):
        received.append(delta.text)


def errors_of(kind: str) -> float:
    value = REGISTRY.get_sample_value(
        "ragagent_llm_errors_total", {"provider": "openai", "kind": kind}
    )
    return value or 0.0


def test_build_llm_picks_openai_when_a_base_url_is_set(fake_openai: FakeOpenAI) -> None:
    answerer = create_llm(settings_for(fake_openai, llm_provider="auto"))
    assert isinstance(answerer, FallbackLLM)
    assert isinstance(answerer.primary, OpenAIChatLLM)


async def test_answer_streams_in_pieces_and_carries_reported_usage(
    llm: OpenAIChatLLM, fake_openai: FakeOpenAI
) -> None:
    deltas = await collect(llm)
    answer = "".join(d.text for d in deltas)
    assert answer == "According to the knowledge base, RagAgent keeps vectors in pgvector. [1]"
    assert len([d for d in deltas if d.text]) > 3
    request = fake_openai.behaviour.requests[0]
    assert request["model"] == "fake-model"
    assert request["stream_options"] == {"include_usage": True}
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.completion_tokens == len(answer.split())


async def test_usage_is_estimated_when_the_server_reports_none(
    llm: OpenAIChatLLM, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.include_usage = False
    deltas = await collect(llm)
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.prompt_tokens > 0
    assert deltas[-1].usage.completion_tokens > 0


async def test_rate_limits_and_server_errors_are_retried_before_streaming(
    llm: OpenAIChatLLM, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.fail_with = [429, 503]
    before = errors_of("rate_limited")
    deltas = await collect(llm)
    assert "[1]" in "".join(d.text for d in deltas)
    assert len(fake_openai.behaviour.requests) == 3
    assert errors_of("rate_limited") == before + 1
    assert llm.breaker.state == "closed"


async def test_exhausted_retries_give_a_503_with_retry_after(
    llm: OpenAIChatLLM, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.fail_with = [500, 500, 500]
    with pytest.raises(errors.LLMUnavailable) as caught:
        await collect(llm)
    assert caught.value.status_code == 503
    assert "Retry-After" in caught.value.headers
    assert len(fake_openai.behaviour.requests) == 3


async def test_client_errors_are_not_retried(llm: OpenAIChatLLM, fake_openai: FakeOpenAI) -> None:
    fake_openai.behaviour.fail_with = [400]
    with pytest.raises(errors.LLMUnavailable):
        await collect(llm)
    assert len(fake_openai.behaviour.requests) == 1


async def test_open_breaker_fails_fast_without_calling_the_provider(
    llm: OpenAIChatLLM, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.fail_with = [500] * 6
    for _ in range(2):
        with pytest.raises(errors.LLMUnavailable):
            await collect(llm)
    assert llm.breaker.state == "open"
    calls = len(fake_openai.behaviour.requests)
    before = errors_of("circuit_open")
    with pytest.raises(errors.LLMUnavailable) as caught:
        await collect(llm)
    assert len(fake_openai.behaviour.requests) == calls
    assert errors_of("circuit_open") == before + 1
    assert int(caught.value.headers["Retry-After"]) > 1


async def test_a_dropped_stream_is_not_retried_after_the_first_token(
    llm: OpenAIChatLLM, fake_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.break_after_chunks = 2
    received: list[str] = []
    with pytest.raises(errors.LLMUnavailable):
        await drain_into(received, llm)
    assert "".join(received).startswith("According to")
    assert len(fake_openai.behaviour.requests) == 1


async def test_a_slow_provider_times_out(fake_openai: FakeOpenAI) -> None:
    answerer = OpenAIChatLLM.from_settings(
        settings_for(fake_openai, llm_timeout_seconds=0.2, llm_max_retries=0)
    )
    fake_openai.behaviour.delay_seconds = 1.0
    before = errors_of("timeout")
    try:
        with pytest.raises(errors.LLMUnavailable):
            await collect(answerer)
    finally:
        await answerer.aclose()
    assert errors_of("timeout") == before + 1


def test_backoff_doubles_per_attempt_and_stays_capped() -> None:
    assert backoff_delay(0, 0.5, 1.0) == pytest.approx(0.5)
    assert backoff_delay(2, 0.5, 1.0) == pytest.approx(2.0)
    assert backoff_delay(2, 0.5, 0.0) == pytest.approx(1.0)
    assert backoff_delay(20, 0.5, 1.0) == pytest.approx(8.0)
