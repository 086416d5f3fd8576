"""The CRD's model settings and the agent's agree: defaults run, and the bounds are the same."""

from __future__ import annotations

from typing import Any

import pytest

from ragagent.core.config import ConfigError, Settings, load_settings
from ragagent.rag import embeddings
from ragagent_operator import crd
from ragagent_operator.spec import Model

# pgvector's HNSW index takes a vector column of at most this many dimensions.
HNSW_MAX_DIMENSIONS = 2000


def crd_model_schema() -> dict[str, Any]:
    root = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return root["properties"]["spec"]["properties"]["model"]  # type: ignore[no-any-return]


def agent_dimension_bounds() -> tuple[int, int]:
    field = Settings.model_fields["embedding_dimension"]
    ge = next(item.ge for item in field.metadata if hasattr(item, "ge"))
    le = next(item.le for item in field.metadata if hasattr(item, "le"))
    return ge, le


def test_the_crds_default_model_runs_on_the_agents_local_embedder() -> None:
    model = Model()
    settings = Settings(
        embedding_provider=model.embedding_provider,
        embedding_model=model.embedding_model,
        embedding_dimension=model.embedding_dimension,
    )
    assert embeddings.create_embedder(settings).dimension == model.embedding_dimension


def test_crd_and_agent_bound_the_embedding_dimension_alike() -> None:
    schema = crd_model_schema()["properties"]["embeddingDimension"]
    assert (schema["minimum"], schema["maximum"]) == agent_dimension_bounds()


def test_no_dimension_above_what_pgvector_can_index_is_accepted() -> None:
    assert crd_model_schema()["properties"]["embeddingDimension"]["maximum"] == 2000
    with pytest.raises(ConfigError, match="embedding_dimension"):
        load_settings(embedding_provider="openai", embedding_dimension=HNSW_MAX_DIMENSIONS + 1)
    assert load_settings(embedding_dimension=HNSW_MAX_DIMENSIONS).embedding_dimension == 2000
