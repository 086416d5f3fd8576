"""The knowledge ingestion Job, named by the content hash of what it ingests.

A new hash means new content: the reconciler creates the Job for that hash and
deletes Jobs of older hashes.  Jobs are immutable, so an unchanged hash never
causes a write.
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator import spec
from ragagent_operator.render import common, deployment, job, secrets

RUN = job.Run(
    c.COMPONENT_INGEST, c.Annotation.KNOWLEDGE_HASH, backoff_limit=3, deadline_seconds=3600
)


def ingest_job_name(agent: common.Agent, knowledge_hash: str) -> str:
    return common.name_of(agent, f"ingest-{knowledge_hash[:10]}")


def build_ingest_job(agent: common.Agent, *, knowledge_hash: str, image: str) -> common.Manifest:
    """``knowledge_hash`` covers the sources, their ConfigMaps' data and the chunking.

    ``ragagent sync`` makes the index hold exactly these sources (documents of sources
    no longer listed are deleted) and leaves its per-source result as the termination
    message, which the status step reads. Each ConfigMap source is mounted at
    /knowledge/<index> and named ``configmap/<name>``; URL sources are passed as is.
    """
    volumes = [job.TMP]
    args = ["sync", "--prune-unlisted"]
    for index, source in enumerate(agent.spec.knowledge.sources):
        if source.config_map is not None:
            config_map = {"configMap": {"name": source.config_map.name}}
            volumes.append(job.Volume(f"src{index}", config_map, f"/knowledge/{index}"))
            args.append(f"{source_name(source)}=/knowledge/{index}")
        elif source.url is not None:
            args.append(source.url)
    pod = build_data_pod(
        agent, name="ingest", image=image, args=args, volumes=volumes, reports=True
    )
    name = ingest_job_name(agent, knowledge_hash)
    return job.build_job(agent, RUN, name=name, made_for=knowledge_hash, pod=pod)


def ingest_cronjob_name(agent: common.Agent) -> str:
    return common.name_of(agent, "ingest-refresh")


def build_ingest_cronjob(
    agent: common.Agent, *, image: str, suspend: bool = False
) -> common.Manifest:
    """The scheduled re-sync (``knowledge.refreshSchedule``): the same pod as the ingest Job.

    Forbid overlapping runs (two syncs of one source would race for its transaction);
    ``suspend`` while a restore or a re-index waits, as the ingest Job then holds too.
    """
    pod = build_ingest_job(agent, knowledge_hash="", image=image)["spec"]["template"]["spec"]
    return job.build_cronjob(
        agent,
        RUN,
        name=ingest_cronjob_name(agent),
        schedule=agent.spec.knowledge.refresh_schedule or "",
        pod=pod,
        suspend=suspend,
        history=1,
        starting_deadline_seconds=600,
    )


def source_name(source: spec.KnowledgeSource) -> str:
    """How the sync (its documents' ids) and ``status.knowledge`` name a source."""
    if source.config_map is not None:
        return f"configmap/{source.config_map.name}"
    return source.url or ""


def build_data_pod(
    agent: common.Agent,
    *,
    name: str,
    image: str,
    args: list[str],
    volumes: list[job.Volume],
    reports: bool = False,
) -> dict[str, Any]:
    """A pod that writes the index (ingest, re-index): the agent's resources, and the
    Secrets those commands read (the database, and the API key for openai embeddings)."""
    return job.build_job_pod(
        agent,
        name=name,
        image=image,
        args=args,
        refs=secrets.data_command_refs(agent),
        resources=deployment.DEFAULT_RESOURCES,
        volumes=volumes,
        reports=reports,
    )
