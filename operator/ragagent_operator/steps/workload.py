"""Steps for the agent's workload: one ``ensure_*`` per child kind, in STEPS order."""

from __future__ import annotations

from ragagent_operator import context, k8s, manifest
from ragagent_operator.render import (
    configmap,
    deployment,
    hpa,
    networkpolicy,
    pdb,
    postgres,
    service,
    serviceaccount,
)


async def ensure_service_account(ctx: context.Context) -> None:
    await ctx.ensure(serviceaccount.build_service_account(ctx.agent))


async def ensure_config_map(ctx: context.Context) -> None:
    config_map = configmap.build_config_map(ctx.serving_agent)
    ctx.config_hash = manifest.stable_hash(config_map["data"])
    await ctx.ensure(config_map)


async def ensure_database(ctx: context.Context) -> None:
    """Managed: StatefulSet, Service and the init ConfigMap. External: nothing to run (the
    URL Secret is checked)."""
    agent = ctx.agent
    children = [postgres.build_postgres_service(agent)]
    if agent.managed_db:
        # The init ConfigMap is never deleted here: it holds no secret, the RagAgent's
        # deletion collects it, and the operator has no right to delete ConfigMaps.
        children.append(postgres.build_postgres_init_config_map(agent))
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


async def ensure_deployment(ctx: context.Context) -> None:
    """Under an HPA, hand ``replicas`` over once, then never send it again. Not written while
    the secrets step refused a Secret the pods would read (``Context.refused``). Rendered
    with the served index settings: the pods embed queries with the serving model."""
    agent = ctx.serving_agent
    desired = deployment.build_deployment(
        agent,
        config_hash=ctx.config_hash,
        secrets_hash=ctx.secrets_hash,
    )
    live = await ctx.get("apps/v1", "Deployment", agent.name)
    await k8s.check_child(ctx.api, desired, live)  # before the handover touches it
    if ctx.refused:
        return
    compare = True
    if live is not None and agent.spec.autoscaling.enabled and k8s.owns_replicas(live):
        await k8s.hand_over_replicas(ctx.api, live)
        compare = False  # its managed fields changed: apply without comparing
    # The status step reads the Deployment's status from here instead of asking again.
    _, ctx.deployment = await k8s.ensure_object(
        ctx.api, desired, live, fetched=True, compare=compare
    )


async def ensure_service(ctx: context.Context) -> None:
    await ctx.ensure(service.build_service(ctx.agent))


async def ensure_pdb(ctx: context.Context) -> None:
    await ctx.ensure(pdb.build_pdb(ctx.agent))


async def ensure_autoscaling(ctx: context.Context) -> None:
    autoscaler = hpa.build_hpa(ctx.agent)
    if ctx.agent.spec.autoscaling.enabled:
        await ctx.ensure(autoscaler)
    else:
        await ctx.delete(autoscaler)


async def ensure_network_policies(ctx: context.Context) -> None:
    wanted = networkpolicy.build_network_policies(ctx.agent, served=ctx.serving_agent)
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
