"""A change of the embedding model from the bundled MiniLM to an embeddings API, on the real
embedded PostgreSQL and the fake OpenAI embeddings server (another dimension: 24 against
384): the rollout builds the API's generation beside MiniLM's and gates it against the
serving one, which it scores with MiniLM run locally, as the re-index Job's command does."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from ragagent import cli_index
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.rag import embeddings, index_eval, ingest, rollout
from ragagent.rag.types import Embedder
from tests.agent import documents
from tests.agent.index_corpus import CORPUS
from tests.support.fake_openai_embeddings import API_KEY, FakeEmbeddings

pytestmark = pytest.mark.db

API_MODEL = "fake-embedding-model"
# What the operator passes by default: the candidate may lose at most this much.
DROP = 0.02


def api_settings(settings: Settings, fake: FakeEmbeddings) -> Settings:
    """The re-index Job's settings after the spec moved to the API."""
    return settings.model_copy(
        update={
            "embedding_provider": "openai",
            "embedding_model": API_MODEL,
            "embedding_dimension": 24,
            "openai_base_url": fake.url + "/v1",
            "openai_api_key": SecretStr(API_KEY),
        }
    )


async def test_a_switch_from_minilm_to_an_api_scores_the_serving_generation_with_minilm(
    db: Database, embedder: Embedder, pg_settings: Settings, fake_embeddings: FakeEmbeddings
) -> None:
    await documents.ingest(db, embedder, pg_settings, *CORPUS)
    settings = api_settings(pg_settings, fake_embeddings)
    api = embeddings.create_embedder(settings)
    plan = rollout.Plan(
        embedder=api,
        embedder_for=cli_index.embedder_finder(settings, api),
        chunking=ingest.build_chunking(settings),
        batch_size=8,
        eval_set=None,
        limits=index_eval.Thresholds(max_ndcg_drop=DROP, max_recall_drop=DROP),
    )

    outcome = await rollout.rollout(db, plan)

    assert outcome.action == "switched", outcome.verdict
    assert outcome.verdict is not None
    assert outcome.verdict.serving is not None
    assert outcome.serving is not None
    assert (outcome.serving.model.model, outcome.serving.model.dimension) == (API_MODEL, 24)
    # Only the new model was asked of the API: MiniLM ran here.
    asked = {request["model"] for request in fake_embeddings.behaviour.requests}
    assert asked == {API_MODEL}
