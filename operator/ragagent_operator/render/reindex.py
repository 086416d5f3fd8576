"""The re-index Job (``ragagent reindex``), named by the hash of the index settings.

The index settings are what makes stored vectors and chunks obsolete when they
change: the embedding model (provider, name, dimension) and the chunking.
"""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator.render import common, ingest_job, job

# backoffLimit 1: re-embedding is costly, a second failure needs a human.
RUN = job.Run(
    c.COMPONENT_REINDEX, c.Annotation.INDEX_HASH, backoff_limit=1, deadline_seconds=6 * 3600
)


def index_settings_hash(agent: common.Agent) -> str:
    model = agent.spec.model
    return common.stable_hash(
        {
            "embedding": [
                model.embedding_provider,
                model.embedding_model,
                model.embedding_dimension,
            ],
            "chunking": agent.spec.knowledge.chunking.model_dump(),
        }
    )


def reindex_job_name(agent: common.Agent, settings_hash: str) -> str:
    return common.name_of(agent, f"reindex-{settings_hash[:10]}")


def build_reindex_job(agent: common.Agent, *, settings_hash: str, image: str) -> common.Manifest:
    """Re-embeds every chunk with the index settings of ``settings_hash``."""
    pod = ingest_job.build_data_pod(
        agent, name="reindex", image=image, args=["reindex"], volumes=[job.TMP]
    )
    name = reindex_job_name(agent, settings_hash)
    return job.build_job(agent, RUN, name=name, made_for=settings_hash, pod=pod)
