"""Reconcile steps for the workload: one ``ensure_*`` per child kind, in STEPS order."""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator import k8s
from ragagent_operator.context import Context
from ragagent_operator.render import (
    backup,
    configmap,
    deployment,
    hpa,
    ingest_job,
    monitoring,
    networkpolicy,
    pdb,
    postgres,
    service,
    serviceaccount,
)
from ragagent_operator.render.common import Manifest, selector_labels, stable_hash

MONITORING_GV = "monitoring.coreos.com/v1"


async def ensure_service_account(ctx: Context) -> None:
    await ctx.ensure(serviceaccount.build_service_account(ctx.agent))


async def ensure_config_map(ctx: Context) -> None:
    manifest = configmap.build_config_map(ctx.agent)
    ctx.facts["config_hash"] = stable_hash(manifest["data"])
    await ctx.ensure(manifest)


async def ensure_database(ctx: Context) -> None:
    """Managed: StatefulSet + Service. External: nothing to run (the URL Secret is checked)."""
    agent = ctx.agent
    children = [postgres.build_postgres_service(agent)]
    if agent.managed_db:
        children.append(postgres.build_postgres_statefulset(agent))
        for child in children:
            await ctx.ensure(child)
        return
    for child in children:
        await ctx.delete(child)
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": postgres.postgres_name(agent), "namespace": agent.namespace},
    }
    await ctx.delete(sts)


async def ensure_deployment(ctx: Context) -> None:
    """Under an HPA, hand ``replicas`` over once, then never send it again."""
    agent = ctx.agent
    desired = deployment.build_deployment(
        agent,
        config_hash=ctx.facts.get("config_hash", ""),
        secrets_hash=ctx.facts.get("secrets_hash", ""),
    )
    live = await ctx.get("apps/v1", "Deployment", agent.name)
    if live is not None and agent.spec.autoscaling.enabled and k8s.owns_replicas(live):
        await k8s.hand_over_replicas(ctx.api, live)
        live = None  # its managed fields changed: apply without comparing
    # The status step reads the Deployment's status from here instead of asking again.
    _, ctx.facts["deployment"] = await k8s.ensure_object(ctx.api, desired, live, fetched=True)


async def ensure_service(ctx: Context) -> None:
    await ctx.ensure(service.build_service(ctx.agent))


async def ensure_pdb(ctx: Context) -> None:
    await ctx.ensure(pdb.build_pdb(ctx.agent))


async def ensure_autoscaling(ctx: Context) -> None:
    manifest = hpa.build_hpa(ctx.agent)
    if ctx.agent.spec.autoscaling.enabled:
        await ctx.ensure(manifest)
    else:
        await ctx.delete(manifest)


async def ensure_network_policies(ctx: Context) -> None:
    wanted = networkpolicy.build_network_policies(ctx.agent)
    enabled = ctx.agent.spec.network_policy.enabled
    names = {policy["metadata"]["name"] for policy in wanted} if enabled else set()
    for suffix in networkpolicy.POLICY_SUFFIXES:
        stale = {
            **wanted[0],
            "metadata": {**wanted[0]["metadata"], "name": f"{ctx.agent.name}-{suffix}"},
        }
        if stale["metadata"]["name"] not in names:
            await ctx.delete(stale)
    for policy in wanted if enabled else []:
        await ctx.ensure(policy)


async def ensure_ingest(ctx: Context) -> None:
    """One Job per knowledge content hash; Jobs of older hashes are removed.

    While new index settings wait for their backup, nothing changes: the content hash
    covers those settings, and ingesting with them before the backup would defeat it.
    """
    if ctx.facts.get("reindex_waiting") or ctx.facts.get("restoring"):
        return
    agent = ctx.agent
    jobs = [] if ctx.fresh else await _ingest_jobs(ctx)
    wanted = None
    if agent.spec.knowledge.sources:
        knowledge_hash = await _knowledge_hash(ctx)
        wanted = ingest_job.ingest_job_name(agent, knowledge_hash)
        ctx.facts["knowledge_hash"] = knowledge_hash
        if wanted not in {job["metadata"]["name"] for job in jobs}:
            image = ctx.settings.backup_image or agent.image
            await ctx.ensure(
                ingest_job.build_ingest_job(agent, knowledge_hash=knowledge_hash, image=image)
            )
    for job in jobs:
        if job["metadata"]["name"] == wanted:
            ctx.facts["ingest_job"] = job
        else:  # list items carry no apiVersion/kind, so name them here
            await ctx.delete({"apiVersion": "batch/v1", "kind": "Job", "metadata": job["metadata"]})


async def _ingest_jobs(ctx: Context) -> list[Manifest]:
    agent = ctx.agent
    selector = selector_labels(agent, c.COMPONENT_INGEST)
    return await k8s.list_objects(ctx.api, "batch/v1", "Job", agent.namespace, selector)


async def _knowledge_hash(ctx: Context) -> str:
    """Covers sources, their ConfigMaps' content, chunking and the embedding model."""
    agent = ctx.agent
    contents = {}
    for source in agent.spec.knowledge.sources:
        if source.config_map is not None:
            live = await k8s.get(
                ctx.api, "v1", "ConfigMap", agent.namespace, source.config_map.name
            )
            contents[source.config_map.name] = live and [live.get("data"), live.get("binaryData")]
    model = agent.spec.model
    return stable_hash(
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


async def ensure_backup(ctx: Context) -> None:
    """Disabling backups removes the CronJob but keeps the PVC: it holds the backups."""
    agent = ctx.agent
    image = ctx.settings.backup_image or agent.image
    cron = backup.build_backup_cronjob(agent, image=image, suspend=bool(ctx.facts.get("restoring")))
    if not agent.spec.backup.enabled:
        await ctx.delete(cron)
        return
    claim = backup.build_backup_pvc(agent)
    if claim is not None:
        await ctx.ensure(claim)
    await ctx.ensure(cron)


async def ensure_monitoring(ctx: Context) -> None:
    """Only with the Prometheus Operator CRDs; otherwise say so in MonitoringReady."""
    agent = ctx.agent
    wanted = agent.spec.observability
    if not await k8s.group_version_exists(ctx.api, MONITORING_GV):
        if wanted.service_monitor or wanted.prometheus_rule:
            ctx.note(
                "MonitoringReady",
                False,
                "PrometheusOperatorMissing",
                "monitoring.coreos.com/v1 is not served; ServiceMonitor and PrometheusRule skipped",
            )
        return
    for enabled, manifest in (
        (wanted.service_monitor, monitoring.build_service_monitor(agent)),
        (wanted.prometheus_rule, monitoring.build_prometheus_rule(agent)),
    ):
        await (ctx.ensure(manifest) if enabled else ctx.delete(manifest))
    ctx.note("MonitoringReady", True, "MonitoringApplied", "")
