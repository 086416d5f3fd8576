"""The last step: observe children, compute status and conditions, patch only on change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ragagent_operator import (
    backup_status,
    conditions,
    context,
    job_reports,
    jobs,
    k8s,
    manifest,
    metrics,
    pod_health,
)
from ragagent_operator import constants as c
from ragagent_operator.render import backup, common, event, postgres, service
from ragagent_operator.steps import knowledge_status, usage_status

# Transitions of these types become Events (every Job's condition among them);
# a first failure of the FIRST_FAILURE_EVENTFUL ones does too.
EVENTFUL = (
    conditions.Type.READY,
    conditions.Type.RECONCILED,
    conditions.Type.SECRETS_READY,
    *jobs.CONDITIONS,
)
FIRST_FAILURE_EVENTFUL = (
    conditions.Type.RECONCILED,
    conditions.Type.SECRETS_READY,
    conditions.Type.KNOWLEDGE_SYNCED,  # a source that never synced warns at once
)


async def ensure_status(ctx: context.Context, failed: list[str] | None) -> None:
    """``failed`` None means a status-only refresh: Reconciled is carried over, not recomputed."""
    agent = ctx.agent
    found = ctx.deployment or await k8s.get(
        ctx.api, "apps/v1", "Deployment", agent.namespace, agent.name
    )
    live, conflict = _owned(ctx, found)
    problem = None if _is_available(live) else await _pod_problem(ctx, c.COMPONENT_AGENT)
    status: dict[str, Any] = _workload_status(ctx, live, problem, conflict)
    await _database_condition(ctx)
    last_backup = await _backup_condition(ctx)
    knowledge = await knowledge_status.note_knowledge(ctx)
    usage = await usage_status.note_usage(ctx, datetime.now(UTC))
    _reconciled_condition(ctx, failed)
    warnings = backup.build_backup_warnings(agent)
    ctx.conditions[conditions.Type.READY] = conditions.build_ready(ctx.conditions, warnings)
    old = dict(ctx.body.get("status") or {})
    generation = observed_generation(ctx.body, refresh=failed is None)
    ordered = [ctx.conditions[kind] for kind in conditions.Type if kind in ctx.conditions]
    status["conditions"] = conditions.merge_conditions(
        old.get("conditions") or [], ordered, generation=generation, now=conditions.now_rfc3339()
    )
    status["observedGeneration"] = generation
    if last_backup is not None:
        status["lastBackup"] = last_backup
    if ctx.last_restore:
        status["lastRestore"] = ctx.last_restore
    if knowledge or old.get("knowledge"):
        status["knowledge"] = knowledge
    if usage is not None:
        status["usage"] = usage
    ingested = _ingested_hash(ctx)
    if ingested:
        status["ingestedHash"] = ingested
    if ctx.index_settings_hash:
        status["indexSettingsHash"] = ctx.index_settings_hash
    if ctx.index_status is not None:
        status["index"] = ctx.index_status
    if {**old, **status} != old:
        await k8s.patch_status(ctx.api, agent.namespace, agent.name, status)
        await _emit_events(ctx, old.get("conditions") or [], status["conditions"])
        await usage_status.emit_crossing(ctx, old.get("usage"), usage)


def observed_generation(body: manifest.Manifest, *, refresh: bool) -> int:
    """The generation this status may claim to have observed. A full reconcile applied the
    body's spec: its generation. A status-only refresh applied nothing, so it keeps the one
    the last reconcile observed: claiming the body's would hide a spec change it read before
    the change's own event was handled (after an API server restart the child watches come
    back first), and the change would wait for the next resync."""
    if refresh:
        return int((body.get("status") or {}).get("observedGeneration") or 0)
    return int(body["metadata"].get("generation", 0))


def _owned(
    ctx: context.Context, live: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, str | None]:
    """``live`` when this RagAgent controls it; else None and why. A namesake (ChildConflict)
    must not lend its replicas or its Available condition to the RagAgent's status."""
    if live is None or manifest.is_owned_by(live, ctx.agent.uid):
        return live, None
    return None, f"{manifest.describe(live)} exists and is not owned by this RagAgent"


def _is_available(live: dict[str, Any] | None) -> bool:
    return any(
        cond.get("type") == "Available" and cond.get("status") == "True"
        for cond in ((live or {}).get("status") or {}).get("conditions") or []
    )


async def _pod_problem(ctx: context.Context, component: str) -> pod_health.PodProblem | None:
    """Why the component's pods fail, when one of their containers does; None otherwise."""
    if ctx.fresh:
        return None
    selector = common.selector_labels(ctx.agent, component)
    pods = await k8s.list_objects(ctx.api, "v1", "Pod", ctx.agent.namespace, selector)
    return pod_health.build_pod_problem(pods)


def _workload_status(
    ctx: context.Context,
    live: dict[str, Any] | None,
    problem: pod_health.PodProblem | None,
    conflict: str | None = None,
) -> dict[str, Any]:
    agent = ctx.agent
    observed = (live or {}).get("status") or {}
    available = _is_available(live)
    ready = int(observed.get("readyReplicas") or 0)
    desired = int(((live or {}).get("spec") or {}).get("replicas") or 0)
    metrics.AGENT_READY_REPLICAS.labels(agent.namespace, agent.name).set(ready)
    metrics.AGENT_DESIRED_REPLICAS.labels(agent.namespace, agent.name).set(desired)
    reason: str = conditions.Reason.MINIMUM_REPLICAS_AVAILABLE
    message = f"{ready} of {observed.get('replicas') or 0} pods ready"
    if not available:
        reason = problem.reason if problem else conditions.Reason.DEPLOYMENT_UNAVAILABLE
        message += f"; {problem.message}" if problem else ""
    if conflict:
        reason, message = conditions.Reason.CHILD_CONFLICT, conflict
    ctx.note(conditions.Type.DEPLOYMENT_AVAILABLE, available, reason, message)
    selector = ",".join(
        f"{k}={v}" for k, v in sorted(common.selector_labels(agent, c.COMPONENT_AGENT).items())
    )
    return {
        "replicas": int(observed.get("replicas") or 0),
        "readyReplicas": ready,
        "selector": selector,
        "endpoints": service.build_endpoints(agent),
    }


async def _database_condition(ctx: context.Context) -> None:
    agent = ctx.agent
    if not agent.managed_db:
        missing = ctx.missing_secrets
        if missing is None:
            return  # status-only refresh: the secrets step did not run, keep the old condition
        ok = (
            agent.spec.database.external is not None
            and agent.spec.database.external.secret_ref.name not in missing
        )
        reason = conditions.Reason.EXTERNAL_DATABASE
        message = "external PostgreSQL URL from a Secret"
        if not ok:
            reason = conditions.Reason.DATABASE_SECRET_MISSING
        elif ctx.database_tls_problem:
            ok, reason = False, conditions.Reason.DATABASE_TLS_NOT_VERIFIED
            message = ctx.database_tls_problem
        ctx.note(conditions.Type.DATABASE_READY, ok, reason, message)
        return
    found = await k8s.get(
        ctx.api, "apps/v1", "StatefulSet", agent.namespace, postgres.postgres_name(agent)
    )
    sts, conflict = _owned(ctx, found)
    ready = int(((sts or {}).get("status") or {}).get("readyReplicas") or 0)
    message = f"{ready} of 1 PostgreSQL pods ready"
    problem = None if ready else await _pod_problem(ctx, c.COMPONENT_DATABASE)
    if problem is not None:
        message = f"{message}; {problem.message}"
    state = conditions.Reason.POSTGRES_READY if ready else conditions.Reason.POSTGRES_NOT_READY
    if conflict:
        state, message, problem = conditions.Reason.CHILD_CONFLICT, conflict, None
    ctx.note(
        conditions.Type.DATABASE_READY, ready >= 1, problem.reason if problem else state, message
    )


async def _backup_condition(ctx: context.Context) -> dict[str, Any] | None:
    agent = ctx.agent
    if not agent.spec.backup.enabled:
        message = "spec.backup.enabled is false"
        ctx.note(conditions.Type.BACKUP_READY, True, conditions.Reason.BACKUP_DISABLED, message)
        metrics.forget_backup(agent.namespace, agent.name)
        return None
    selector = common.selector_labels(agent, c.COMPONENT_BACKUP)
    jobs = await k8s.list_objects(ctx.api, "batch/v1", "Job", agent.namespace, selector)
    created = backup_status.parse_time(ctx.body["metadata"].get("creationTimestamp"))
    messages = await job_reports.read_newest_finished_messages(ctx.api, agent.namespace, jobs)
    last, cond = backup_status.build_backup_status(
        jobs,
        schedule=agent.spec.backup.schedule,
        now=datetime.now(UTC),
        since=created or datetime.now().astimezone(),
        messages=messages,
    )
    ctx.note(conditions.Type.BACKUP_READY, cond["status"], cond["reason"], cond["message"])
    _export_backup(ctx, backup_status.build_finished_jobs(jobs))
    return last


def _export_backup(ctx: context.Context, finished: list[backup_status.FinishedJob]) -> None:
    """Backup gauges: absent until a backup Job finished, so a new RagAgent is not stale."""
    labels = (ctx.agent.namespace, ctx.agent.name)
    if not finished:
        return
    metrics.BACKUP_SUCCESS.labels(*labels).set(1 if finished[-1].succeeded else 0)
    succeeded = [job.time for job in finished if job.succeeded]
    if succeeded:
        metrics.LAST_BACKUP_TIMESTAMP.labels(*labels).set(max(succeeded).timestamp())


def _ingested_hash(ctx: context.Context) -> str | None:
    """The current knowledge hash once its ingest Job succeeded; None before."""
    job = ctx.ingest_job or {}
    succeeded = int((job.get("status") or {}).get("succeeded") or 0) > 0
    return ctx.knowledge_hash if succeeded else None


def _reconciled_condition(ctx: context.Context, failed: list[str] | None) -> None:
    if failed is None:
        return
    if failed:
        message = "; ".join(f"{name}: {ctx.errors.get(name, 'failed')}" for name in failed)
        ctx.note(conditions.Type.RECONCILED, False, conditions.Reason.STEP_FAILED, message[:1000])
    else:
        message = "all children match the spec"
        ctx.note(conditions.Type.RECONCILED, True, conditions.Reason.RECONCILE_SUCCEEDED, message)


async def _emit_events(
    ctx: context.Context, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> None:
    """Events for real transitions, plus first-seen failures; not for initial states, and
    not for the routine wait of a new RagAgent's Secrets for the controller to unseal them."""
    before = {item.get("type"): item for item in old}
    for cond in conditions.transitions(old, new):
        first_failure = cond["status"] == "False" and cond["type"] in FIRST_FAILURE_EVENTFUL
        if cond["type"] not in before and not first_failure:
            continue
        if _unseal_wait(cond) or _unseal_wait(before.get(cond["type"]) or {}):
            continue
        if cond["type"] in EVENTFUL:
            bad = "True" if cond["type"] in conditions.TRUE_IS_BAD else "False"
            warning = cond["status"] == bad
            message = f"{cond['type']} is {cond['status']}: {cond['message']}"
            now = conditions.now_rfc3339()
            notice = event.build_event(
                ctx.agent, reason=cond["reason"], message=message, now=now, warning=warning
            )
            await k8s.create_event(ctx.api, notice)


def _unseal_wait(cond: dict[str, Any]) -> bool:
    unsealing = cond.get("reason") == conditions.Reason.WAITING_FOR_UNSEAL
    return cond.get("type") == conditions.Type.SECRETS_READY and unsealing
