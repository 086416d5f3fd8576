"""Restore on request: ``spec.restore`` runs ``ragagent restore`` once, with the writers stopped.

The life of one request (its key is the hash of from, force and requestId):

1. Not finished yet: the agent is held at 0 replicas and its HorizontalPodAutoscaler is
   removed for the duration (an HPA would scale the agent back up under a running
   restore), and the restore Job is created, once, named by the key.
2. While the Job runs: ``Restored`` False/Restoring, ``status.lastRestore.result`` Running.
3. The Job succeeded: ``Restored`` True; the agent comes back to ``spec.replicas``, or
   to ``autoscaling.minReplicas`` with the HPA re-created to take over from there.
4. The Job failed: ``Restored`` False/RestoreFailed with the Job's reason, and the agent
   stays at 0. Starting writers against a database in an unknown state must be a
   decision: remove ``spec.restore`` to start the agent without a restore, or change
   ``spec.restore.requestId`` to try again.

A finished result is recorded in ``status.lastRestore``; later reconciles read it
from there and never look at (or recreate) the Job again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ragagent_operator import backup_status, conditions, context, job_reports, k8s, spec
from ragagent_operator.render import common, restore

RESTORED = conditions.Type.RESTORED
FINAL = ("Succeeded", "Failed")  # lastRestore.result of a finished request


async def ensure_restore(ctx: context.Context) -> None:
    request = ctx.agent.spec.restore
    if request is None:
        return
    # Held until proven otherwise: if this step fails half-way, the steps after it
    # still render the agent at 0 rather than bringing writers back mid-restore.
    original, ctx.agent = ctx.agent, build_held_agent(ctx.agent)
    # The other writers hold too: no ingest or re-index Job starts, and the backup CronJob
    # is suspended, so no scheduled dump of a half-restored database replaces a good one.
    ctx.restoring = True
    key = restore.restore_request_hash(request)
    recorded = (ctx.body.get("status") or {}).get("lastRestore") or {}
    if recorded.get("requestHash") == key and recorded.get("result") in FINAL:
        _carry(ctx, recorded)
        if recorded["result"] == "Succeeded":
            ctx.agent, ctx.restoring = original, False
        return
    last, reason = await _observe(ctx, original, request, key)
    ctx.last_restore = last
    ctx.conditions[RESTORED] = build_restored_condition(last, reason)
    if last["result"] == "Succeeded":
        ctx.agent, ctx.restoring = original, False
        await _release_autoscaled(ctx)


async def _observe(
    ctx: context.Context, agent: common.Agent, request: spec.Restore, key: str
) -> tuple[dict[str, Any], str]:
    """Create the Job if it is missing; returns (lastRestore, failure reason)."""
    name = restore.restore_job_name(agent, key)
    job = await k8s.get(ctx.api, "batch/v1", "Job", agent.namespace, name)
    if job is None:
        image = ctx.settings.backup_image or agent.image
        await ctx.ensure(restore.build_restore_job(agent, request, image=image))
    finished = None
    if job is not None and backup_status.build_finished_job(job) is not None:
        message = await job_reports.read_termination_message(ctx.api, job)
        finished = backup_status.build_finished_job(job, message)
    reason = str((finished.report if finished else {}).get("reason") or "the Job failed")
    return build_last_restore(request, key, name, finished), reason


def _carry(ctx: context.Context, recorded: dict[str, Any]) -> None:
    """A finished request: keep its condition as recorded (the caller releases on success)."""
    old = conditions.find(ctx.body, RESTORED)
    built = build_restored_condition(recorded, "see the restore Job")
    ctx.conditions[RESTORED] = conditions.without_times(old) if old else built


async def _release_autoscaled(ctx: context.Context) -> None:
    """Under an HPA, start from minReplicas: an HPA never scales a Deployment up from 0."""
    agent = ctx.agent
    if not agent.spec.autoscaling.enabled:
        return  # the deployment step applies spec.replicas again
    live = await k8s.get(ctx.api, "apps/v1", "Deployment", agent.namespace, agent.name)
    if live is not None and not (live.get("spec") or {}).get("replicas"):
        replicas = agent.spec.autoscaling.min_replicas
        await k8s.hand_over_replicas(ctx.api, {**live, "spec": {"replicas": replicas}})


def build_last_restore(
    request: spec.Restore, key: str, job: str, finished: backup_status.FinishedJob | None
) -> dict[str, Any]:
    """``status.lastRestore`` for a request whose Job is ``job`` (running when not finished)."""
    last: dict[str, Any] = {
        "from": request.from_,
        "requestHash": key,
        "job": job,
        "result": "Running",
    }
    if finished is not None:
        last["result"] = "Succeeded" if finished.succeeded else "Failed"
        last["time"] = backup_status.format_time(finished.time)
    return last


def build_restored_condition(last: dict[str, Any], reason: str) -> conditions.Condition:
    source, job = last.get("from"), last.get("job")
    if last.get("result") == "Succeeded":
        message = f"backup {source} restored at {last.get('time')}"
        return conditions.build_condition(
            RESTORED, True, conditions.Reason.RESTORE_SUCCEEDED, message
        )
    if last.get("result") == "Failed":
        message = (
            f"restore of backup {source} failed ({reason}); the agent stays scaled to 0: "
            "remove spec.restore to start it without a restore, or change "
            "spec.restore.requestId to try again"
        )
        return conditions.build_condition(
            RESTORED, False, conditions.Reason.RESTORE_FAILED, message[:1000]
        )
    message = f"restoring backup {source} with Job {job}; the agent is scaled to 0 meanwhile"
    return conditions.build_condition(RESTORED, False, conditions.Reason.RESTORING, message)


def build_held_agent(agent: common.Agent) -> common.Agent:
    """The agent as rendered during a restore: 0 replicas and no autoscaler."""
    autoscaling = agent.spec.autoscaling.model_copy(update={"enabled": False})
    held = agent.spec.model_copy(update={"replicas": 0, "autoscaling": autoscaling})
    return dataclasses.replace(agent, spec=held)
