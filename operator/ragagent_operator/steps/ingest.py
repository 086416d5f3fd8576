"""The ingest step: one Job per content hash of the knowledge sources."""

from __future__ import annotations

from ragagent_operator import conditions, context, k8s, manifest
from ragagent_operator import constants as c
from ragagent_operator.render import common, ingest_job
from ragagent_operator.steps import secrets


async def ensure_ingest(ctx: context.Context) -> None:
    """One Job per knowledge content hash; Jobs of older hashes are removed.

    While new index settings wait for their backup, nothing changes: the content hash
    covers those settings, and ingesting with them before the backup would defeat it.
    An unlabelled knowledge ConfigMap stops every pod that would read it: no ingest Job,
    and no refresh CronJob (an existing one is deleted). Ingestion writes to the serving
    generation, so it runs with the served index settings.
    """
    agent = ctx.serving_agent
    knowledge_hash, refused = "", list[str]()
    if agent.spec.knowledge.sources:
        knowledge_hash, refused = await _read_knowledge_hash(ctx)
    if refused:  # its content would reach chat users: nothing is ingested
        message = f"{', '.join(refused)}: {secrets.NOT_MARKED}; nothing ingested"
        ctx.note(
            conditions.Type.RECONCILED, False, conditions.Reason.REFERENCE_NOT_ALLOWED, message
        )
    await _ensure_refresh(ctx, allowed=not refused)
    if ctx.reindex_waiting or ctx.restoring:
        return
    jobs = [] if ctx.fresh else await _list_ingest_jobs(ctx)
    # Only our own Jobs count as done: one of the same name that a deleted namesake left
    # (same labels, same content hash) is applied to, which takes it over, or the garbage
    # collector deletes it later and the knowledge waits for the next resync.
    owned = {job["metadata"]["name"] for job in jobs if manifest.is_owned_by(job, agent.uid)}
    wanted = None
    if agent.spec.knowledge.sources:
        wanted = ingest_job.ingest_job_name(agent, knowledge_hash)
        ctx.knowledge_hash = knowledge_hash
        if not refused and wanted not in owned:
            image = ctx.settings.backup_image or agent.image
            await ctx.ensure(
                ingest_job.build_ingest_job(agent, knowledge_hash=knowledge_hash, image=image)
            )
    for job in jobs:
        if job["metadata"]["name"] == wanted:
            ctx.ingest_job = job
        elif not _is_scheduled(job):  # list items carry no apiVersion/kind, so name them here
            await ctx.delete({"apiVersion": "batch/v1", "kind": "Job", "metadata": job["metadata"]})


async def _ensure_refresh(ctx: context.Context, *, allowed: bool) -> None:
    """The CronJob of ``knowledge.refreshSchedule``; removed when unset, without sources, or
    while a source is not ``allowed``."""
    agent = ctx.serving_agent
    image = ctx.settings.backup_image or agent.image
    holding = ctx.reindex_waiting or ctx.restoring
    cron = ingest_job.build_ingest_cronjob(agent, image=image, suspend=holding)
    if allowed and agent.spec.knowledge.refresh_schedule and agent.spec.knowledge.sources:
        await ctx.ensure(cron)
    else:
        await ctx.delete(cron)


def _is_scheduled(job: manifest.Manifest) -> bool:
    """A run of the refresh CronJob, which owns it and keeps its own history."""
    owners = job.get("metadata", {}).get("ownerReferences") or []
    return any(owner.get("kind") == "CronJob" for owner in owners)


async def _list_ingest_jobs(ctx: context.Context) -> list[manifest.Manifest]:
    agent = ctx.agent
    selector = common.selector_labels(agent, c.COMPONENT_INGEST)
    return await k8s.list_objects(ctx.api, "batch/v1", "Job", agent.namespace, selector)


async def _read_knowledge_hash(ctx: context.Context) -> tuple[str, list[str]]:
    """The hash covers sources, their ConfigMaps' content, chunking and the embedding model;
    also returns the ConfigMaps that are not labelled for RagAgent use ("ConfigMap ns/name")."""
    agent = ctx.serving_agent
    contents = {}
    refused = []
    for source in agent.spec.knowledge.sources:
        if source.config_map is not None:
            live = await k8s.get(
                ctx.api, "v1", "ConfigMap", agent.namespace, source.config_map.name
            )
            contents[source.config_map.name] = live and [live.get("data"), live.get("binaryData")]
            if live is not None and not manifest.is_marked_for_use(live):
                refused.append(manifest.describe({**live, "kind": "ConfigMap"}))
    model = agent.spec.model
    digest = manifest.stable_hash(
        {
            "sources": [s.model_dump() for s in agent.spec.knowledge.sources],
            "contents": contents,
            "chunking": agent.spec.knowledge.chunking.model_dump(),
            "embedding": [
                model.embedding_provider,
                model.embedding_model,
                model.embedding_dimension,
            ],
        }
    )
    return digest, refused
