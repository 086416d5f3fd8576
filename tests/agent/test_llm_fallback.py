"""FallbackLLM: the real openai SDK against two local OpenAI-compatible servers, the
primary failing in each way a provider fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ragagent.core.config import ConfigError, Settings, load_settings
from ragagent.core.metrics import REGISTRY
from ragagent.rag.fallback import FallbackLLM, create_llm
from ragagent.rag.types import AnswerDelta
from tests.agent.test_chat_openai_provider import CHUNKS
from tests.support.fake_openai import FakeOpenAI, free_port

FAKE_ANSWER = "According to the knowledge base, RagAgent keeps vectors in pgvector. [1]"


def two_providers(primary_url: str, fallback: FakeOpenAI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_provider": "openai",
        "openai_base_url": primary_url,
        "openai_api_key": "sk-primary",
        "chat_model": "primary-model",
        "llm_fallback_1_base_url": f"{fallback.url}/v1",
        "llm_fallback_1_model": "fallback-model",
        "llm_fallback_1_api_key": "sk-fallback",
        "llm_retry_backoff_seconds": 0.01,
        "llm_max_retries": 1,
        "llm_breaker_failures": 2,
        "llm_breaker_cooldown_seconds": 60,
        **overrides,
    }
    return Settings(**values)


def refused_url() -> str:
    """A local URL where nothing listens: connecting is refused at once."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture
async def answerer(
    fake_openai: FakeOpenAI, second_openai: FakeOpenAI
) -> AsyncIterator[FallbackLLM]:
    built = create_llm(two_providers(f"{fake_openai.url}/v1", second_openai))
    assert isinstance(built, FallbackLLM)
    yield built
    await built.aclose()


async def collect(answerer: FallbackLLM) -> list[AnswerDelta]:
    stream = answerer.stream(question="Where are vectors?", history=[], chunks=CHUNKS)
    return [delta async for delta in stream]


def text_of(deltas: list[AnswerDelta]) -> str:
    return "".join(delta.text for delta in deltas)


def counted(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def fallbacks_from(provider: str) -> float:
    return counted("ragagent_llm_fallbacks_total", {"provider": provider})


def degraded(reason: str) -> float:
    return counted("ragagent_chat_degraded_answers_total", {"reason": reason})


async def test_a_healthy_primary_answers_and_the_fallback_is_never_called(
    answerer: FallbackLLM, fake_openai: FakeOpenAI, second_openai: FakeOpenAI
) -> None:
    deltas = await collect(answerer)
    assert text_of(deltas) == FAKE_ANSWER
    assert not deltas[-1].degraded
    assert fake_openai.behaviour.requests[0]["model"] == "primary-model"
    assert second_openai.behaviour.requests == []


async def test_a_refused_connection_moves_the_turn_to_the_fallback(
    second_openai: FakeOpenAI,
) -> None:
    before = fallbacks_from("primary")
    answerer = create_llm(two_providers(refused_url(), second_openai))
    assert isinstance(answerer, FallbackLLM)
    try:
        deltas = await collect(answerer)
    finally:
        await answerer.aclose()
    assert text_of(deltas) == FAKE_ANSWER
    assert not deltas[-1].degraded
    assert second_openai.behaviour.requests[0]["model"] == "fallback-model"
    assert second_openai.behaviour.headers[0]["authorization"] == "Bearer sk-fallback"
    assert fallbacks_from("primary") == before + 1


async def test_a_server_error_moves_the_turn_to_the_fallback(
    answerer: FallbackLLM, fake_openai: FakeOpenAI, second_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.fail_with = [500, 500]
    deltas = await collect(answerer)
    assert text_of(deltas) == FAKE_ANSWER
    assert len(fake_openai.behaviour.requests) == 2  # the primary's one retry, then on
    assert len(second_openai.behaviour.requests) == 1


async def test_a_timed_out_primary_moves_the_turn_to_the_fallback(
    fake_openai: FakeOpenAI, second_openai: FakeOpenAI
) -> None:
    settings = two_providers(
        f"{fake_openai.url}/v1", second_openai, llm_timeout_seconds=0.3, llm_max_retries=0
    )
    answerer = create_llm(settings)
    assert isinstance(answerer, FallbackLLM)
    fake_openai.behaviour.delay_seconds = 2.0
    try:
        deltas = await collect(answerer)
    finally:
        await answerer.aclose()
    assert text_of(deltas) == FAKE_ANSWER
    assert len(second_openai.behaviour.requests) == 1


async def test_a_failure_mid_stream_ends_the_answer_incomplete_without_splicing(
    answerer: FallbackLLM, fake_openai: FakeOpenAI, second_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.break_after_chunks = 2
    before = degraded("mid_stream")
    deltas = await collect(answerer)
    assert FAKE_ANSWER.startswith(text_of(deltas))
    assert 0 < len(text_of(deltas)) < len(FAKE_ANSWER)
    assert (deltas[-1].degraded, deltas[-1].incomplete) == (True, True)
    assert deltas[-1].usage is not None
    assert second_openai.behaviour.requests == []  # nothing spliced on from elsewhere
    assert degraded("mid_stream") == before + 1


async def test_when_every_provider_fails_the_extractive_answer_is_marked_degraded(
    answerer: FallbackLLM, fake_openai: FakeOpenAI, second_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.fail_with = [500, 500]
    second_openai.behaviour.fail_with = [503, 503]
    before = degraded("all_providers_failed")
    deltas = await collect(answerer)
    assert text_of(deltas) == "From the knowledge base: RagAgent keeps vectors in pgvector. [1]"
    assert (deltas[-1].degraded, deltas[-1].incomplete) == (True, False)
    assert degraded("all_providers_failed") == before + 1


async def test_each_provider_has_its_own_breaker(
    answerer: FallbackLLM, fake_openai: FakeOpenAI, second_openai: FakeOpenAI
) -> None:
    fake_openai.behaviour.fail_with = [500] * 4
    for _ in range(2):
        assert text_of(await collect(answerer)) == FAKE_ANSWER
    primary, fallback = answerer.providers
    assert (primary.breaker.state, fallback.breaker.state) == ("open", "closed")
    calls = len(fake_openai.behaviour.requests)
    assert text_of(await collect(answerer)) == FAKE_ANSWER
    assert len(fake_openai.behaviour.requests) == calls  # the open primary is skipped


async def test_readiness_fails_only_when_no_provider_is_reachable(
    second_openai: FakeOpenAI,
) -> None:
    answerer = create_llm(two_providers(refused_url(), second_openai))
    assert isinstance(answerer, FallbackLLM)
    try:
        assert answerer.readiness() == "ok"  # before the first probe: not known to be down
        assert await answerer.probe() == [False, True]
        assert answerer.readiness() == "ok"
        answerer.providers[1].client.base_url = refused_url()
        assert await answerer.probe() == [False, False]
        assert answerer.readiness() == "none of 2 LLM provider(s) reachable"
    finally:
        await answerer.aclose()
    assert counted("ragagent_llm_providers_reachable", {}) == 0


async def test_a_provider_without_a_models_route_is_still_reachable(
    answerer: FallbackLLM,
) -> None:
    # The fake has no /v1/models: its 404 still proves it answers.
    assert await answerer.probe() == [True, True]


def test_a_fallback_key_without_its_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="RAGAGENT_LLM_FALLBACK_1_BASE_URL must be set"):
        load_settings(llm_fallback_1_api_key="sk-x")


def test_a_second_fallback_needs_a_first() -> None:
    with pytest.raises(ConfigError, match="needs RAGAGENT_LLM_FALLBACK_1"):
        load_settings(llm_fallback_2_base_url="http://127.0.0.1:1/v1")


def test_fallbacks_are_read_from_the_environment_with_keys_from_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    monkeypatch.setenv("RAGAGENT_LLM_FALLBACK_1_BASE_URL", "http://fallback.example/v1")
    monkeypatch.setenv("RAGAGENT_LLM_FALLBACK_1_API_KEY_FILE", str(key_file))
    settings = load_settings(openai_base_url="http://primary.example/v1")
    url, model, key = settings.fallback(1)
    assert (url, model) == ("http://fallback.example/v1", None)
    assert key is not None
    assert key.get_secret_value() == "sk-from-file"
