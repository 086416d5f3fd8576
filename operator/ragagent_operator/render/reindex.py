"""The re-index Job (``ragagent reindex``), named by the hash of the index settings.

The index settings are what makes stored vectors and chunks obsolete when they
change: the embedding model (provider, name, dimension) and the chunking.
"""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator.render import ingest_job
from ragagent_operator.render.common import (
    Agent,
    Manifest,
    labels,
    metadata,
    name_of,
    stable_hash,
)


def index_settings_hash(agent: Agent) -> str:
    model = agent.spec.model
    return stable_hash(
        {
            "embedding": [
                model.embedding_provider,
                model.embedding_model,
                model.embedding_dimension,
            ],
            "chunking": agent.spec.knowledge.chunking.model_dump(),
        }
    )


def reindex_job_name(agent: Agent, settings_hash: str) -> str:
    return name_of(agent, f"reindex-{settings_hash[:10]}")


def build_reindex_job(agent: Agent, *, settings_hash: str, image: str) -> Manifest:
    """backoffLimit 1: re-embedding is costly, a second failure needs a human."""
    meta = metadata(agent, reindex_job_name(agent, settings_hash), c.COMPONENT_REINDEX)
    meta["annotations"] = {c.ANNOTATION_INDEX_HASH: settings_hash}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 1,
            "activeDeadlineSeconds": 6 * 3600,
            "template": {
                "metadata": {"labels": labels(agent, c.COMPONENT_REINDEX)},
                "spec": ingest_job.build_command_pod(
                    agent,
                    name="reindex",
                    image=image,
                    args=["reindex"],
                    mounts=[{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                    volumes=[{"name": "tmp", "emptyDir": {}}],
                ),
            },
        },
    }
