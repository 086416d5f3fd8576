"""The OpenAI embedder: the real openai SDK against a local server speaking the protocol."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ragagent.core import errors
from ragagent.core.config import ConfigError, Settings
from ragagent.rag import embeddings
from tests.support.fake_openai_embeddings import API_KEY, FakeEmbeddings, vector_for


def openai_settings(fake: FakeEmbeddings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "embedding_provider": "openai",
        "openai_base_url": fake.url + "/v1",
        "openai_api_key": API_KEY,
        "embedding_model": "text-embedding-3-small",
        "embedding_dimension": 16,
        "embedding_batch_size": 2,
        "llm_timeout_seconds": 5.0,
        "llm_max_retries": 2,
    }
    return Settings(**(values | overrides))


def test_texts_are_sent_in_batches_and_come_back_normalised_in_order(
    fake_embeddings: FakeEmbeddings,
) -> None:
    embedder = embeddings.create_embedder(openai_settings(fake_embeddings))
    texts = [f"text number {n}" for n in range(5)]
    vectors = embedder.embed(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (5, 16)
    expected = np.asarray([vector_for(text, 16) for text in texts])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-6)
    sent = fake_embeddings.behaviour.requests
    assert [request["input"] for request in sent] == [texts[0:2], texts[2:4], texts[4:5]]
    assert {request["dimensions"] for request in sent} == {16}
    assert set(fake_embeddings.behaviour.authorizations) == {f"Bearer {API_KEY}"}
    assert (embedder.model_name, embedder.dimension) == ("text-embedding-3-small", 16)


def test_models_without_shortening_are_not_sent_dimensions(
    fake_embeddings: FakeEmbeddings,
) -> None:
    settings = openai_settings(fake_embeddings, embedding_model="bge-small", embedding_dimension=24)
    assert embeddings.create_embedder(settings).embed(["hello"]).shape == (1, 24)
    assert "dimensions" not in fake_embeddings.behaviour.requests[0]


def test_server_errors_are_retried_by_the_sdk(fake_embeddings: FakeEmbeddings) -> None:
    fake_embeddings.behaviour.fail_with = [500, 429]
    vectors = embeddings.create_embedder(openai_settings(fake_embeddings)).embed(["retry me"])
    assert vectors.shape == (1, 16)
    assert len(fake_embeddings.behaviour.requests) == 3


def test_a_provider_that_stays_down_is_a_503(fake_embeddings: FakeEmbeddings) -> None:
    fake_embeddings.behaviour.fail_with = [503, 503, 503]
    embedder = embeddings.create_embedder(openai_settings(fake_embeddings))
    with pytest.raises(errors.ServiceUnavailable) as caught:
        embedder.embed(["anything"])
    assert caught.value.status_code == 503
    assert len(fake_embeddings.behaviour.requests) == 3


def test_a_rejected_key_is_a_503_that_does_not_leak_it(fake_embeddings: FakeEmbeddings) -> None:
    secret = "sk-wrong-but-secret-value"
    embedder = embeddings.create_embedder(openai_settings(fake_embeddings, openai_api_key=secret))
    with pytest.raises(errors.ServiceUnavailable) as caught:
        embedder.embed(["anything"])
    assert secret not in str(caught.value)
    assert secret not in caught.value.detail


def test_a_slow_provider_times_out(fake_embeddings: FakeEmbeddings) -> None:
    fake_embeddings.behaviour.delay_seconds = 2.0
    settings = openai_settings(fake_embeddings, llm_timeout_seconds=0.3, llm_max_retries=0)
    with pytest.raises(errors.ServiceUnavailable):
        embeddings.create_embedder(settings).embed(["slow"])


def test_vectors_of_the_wrong_dimension_are_refused(fake_embeddings: FakeEmbeddings) -> None:
    fake_embeddings.behaviour.dimension_override = 8
    with pytest.raises(errors.ServiceUnavailable, match="unexpected vectors"):
        embeddings.create_embedder(openai_settings(fake_embeddings)).embed(["hello"])


def test_no_texts_make_no_request(fake_embeddings: FakeEmbeddings) -> None:
    vectors = embeddings.create_embedder(openai_settings(fake_embeddings)).embed([])
    assert vectors.shape == (0, 16)
    assert fake_embeddings.behaviour.requests == []


def test_the_openai_provider_needs_a_key_or_a_base_url() -> None:
    settings = Settings(embedding_provider="openai", openai_api_key=None, openai_base_url=None)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY or OPENAI_BASE_URL"):
        embeddings.create_embedder(settings)
