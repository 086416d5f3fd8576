"""The re-index Job (``ragagent index rollout``), named by the hash of the index settings,
and the served index settings the agent's pods and the ingest Jobs use meanwhile.

The index settings are what makes stored vectors and chunks obsolete when they
change: the embedding model (provider, name, dimension) and the chunking. A change
builds a new index generation beside the serving one; the Job evaluates it and switches
to it only if it passes ``knowledge.evaluation``. Until the Job reports the switch, the
agent keeps the settings of the generation that serves (``status.index.served``), so its
queries are embedded with the serving model and chat never fails.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from ragagent.core import settings_env
from ragagent_operator import constants as c
from ragagent_operator import spec_knowledge
from ragagent_operator.render import common, ingest_job, job

# backoffLimit 1: re-embedding is costly, a second failure needs a human.
RUN = job.Run(
    c.COMPONENT_REINDEX, c.Annotation.INDEX_HASH, backoff_limit=1, deadline_seconds=6 * 3600
)
# The settings a Job was made for, in full: once it switched, they are the served ones even
# when the spec has changed again meanwhile (a hash cannot be turned back into settings).
SETTINGS_ANNOTATION = f"{c.GROUP}/index-settings"
EVAL_DIR = "/evaluation"
# Retained generations the rollout keeps besides the serving one: an instant switch back.
KEEP_RETAINED = 1


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


def build_index_settings(agent: common.Agent) -> dict[str, Any]:
    """The spec's index settings as ``status.index.served`` records them, with their hash."""
    model, chunking = agent.spec.model, agent.spec.knowledge.chunking
    return {
        "embeddingProvider": model.embedding_provider,
        "embeddingModel": model.embedding_model,
        "embeddingDimension": model.embedding_dimension,
        "chunkSize": chunking.size,
        "chunkOverlap": chunking.overlap,
        "hash": index_settings_hash(agent),
    }


def build_served_agent(agent: common.Agent, served: Mapping[str, Any] | None) -> common.Agent:
    """``agent`` with the index settings of ``served`` (None, or the spec's own: ``agent``).

    What renders the pods that use the serving generation (the Deployment, its ConfigMap,
    the ingest Jobs): until a re-index switched, they must embed with its model.
    """
    if not served or served.get("hash") == index_settings_hash(agent):
        return agent
    spec = agent.spec
    model = spec.model.model_copy(
        update={
            "embedding_provider": served["embeddingProvider"],
            "embedding_model": served["embeddingModel"],
            "embedding_dimension": int(served["embeddingDimension"]),
        }
    )
    chunking = spec.knowledge.chunking.model_copy(
        update={"size": int(served["chunkSize"]), "overlap": int(served["chunkOverlap"])}
    )
    knowledge = spec.knowledge.model_copy(update={"chunking": chunking})
    return dataclasses.replace(
        agent, spec=spec.model_copy(update={"model": model, "knowledge": knowledge})
    )


def reindex_job_name(agent: common.Agent, settings_hash: str) -> str:
    return common.name_of(agent, f"reindex-{settings_hash[:10]}")


def build_rollout_args(agent: common.Agent) -> list[str]:
    """``index rollout`` with the RagAgent's gate; the evaluation set when it names one."""
    gate = agent.spec.knowledge.evaluation
    args = ["index", "rollout"]
    if gate.config_map is not None:
        args += ["--eval-set", f"{EVAL_DIR}/{spec_knowledge.EVAL_SET_FILE}"]
    args += ["--k", str(gate.k), "--min-ndcg", str(gate.min_ndcg)]
    args += ["--min-recall", str(gate.min_recall), "--max-ndcg-drop", str(gate.max_ndcg_drop)]
    args += ["--max-recall-drop", str(gate.max_recall_drop), "--keep", str(KEEP_RETAINED)]
    return args


def build_wanted_env(agent: common.Agent) -> list[dict[str, str]]:
    """The spec's index settings as explicit variables, which outrank the ConfigMap's (it
    holds the served ones while the candidate is built)."""
    model, chunking = agent.spec.model, agent.spec.knowledge.chunking
    values = settings_env.build_env(
        {
            "embedding_provider": model.embedding_provider,
            "embedding_model": model.embedding_model,
            "embedding_dimension": model.embedding_dimension,
            "chunk_size": chunking.size,
            "chunk_overlap": chunking.overlap,
        }
    )
    return [{"name": name, "value": value} for name, value in values.items()]


def _eval_volumes(agent: common.Agent) -> list[job.Volume]:
    """The evaluation set's key as one read-only file. Optional: a missing ConfigMap or key
    fails the command with a message instead of leaving the pod waiting for the mount."""
    found = agent.spec.knowledge.evaluation.config_map
    if found is None:
        return []
    items = [{"key": found.key, "path": spec_knowledge.EVAL_SET_FILE}]
    source = {"configMap": {"name": found.name, "items": items, "optional": True}}
    return [job.Volume("evaluation", source, EVAL_DIR, read_only=True)]


def build_reindex_job(agent: common.Agent, *, settings_hash: str, image: str) -> common.Manifest:
    """Builds, evaluates and (if it passes) serves a generation with the settings of
    ``settings_hash`` (the spec's); leaves its report as the termination message."""
    volumes = [job.TMP, *_eval_volumes(agent)]
    pod = ingest_job.build_data_pod(
        agent,
        name="reindex",
        image=image,
        args=build_rollout_args(agent),
        volumes=volumes,
        reports=True,
    )
    pod["containers"][0]["env"] = build_wanted_env(agent) + pod["containers"][0]["env"]
    name = reindex_job_name(agent, settings_hash)
    made = job.build_job(agent, RUN, name=name, made_for=settings_hash, pod=pod)
    settings = json.dumps(build_index_settings(agent), sort_keys=True, separators=(",", ":"))
    made["metadata"]["annotations"][SETTINGS_ANNOTATION] = settings
    return made
