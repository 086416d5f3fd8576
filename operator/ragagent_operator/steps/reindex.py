"""Index generations behind an eval gate: new index settings are rolled out by a re-index
Job, after a backup, and the agent moves to them only once that Job says they serve.

Three hashes of the index settings (embedding model and chunking) meet here: the spec's
(wanted); the served ones (``status.index.served``: what the Deployment, its ConfigMap and
the ingest Jobs use, since queries must be embedded with the serving generation's model);
and the recorded ones (``status.indexSettingsHash``: what the last re-index Job was
started for). A new RagAgent serves its spec's settings and needs no re-index.

When the wanted settings differ from the served ones, a one-off backup Job runs first
(with backups enabled), then ``ragagent index rollout`` builds a generation beside the
serving one, evaluates both and switches only if the candidate passes
``knowledge.evaluation``. Its report moves the served settings (Switched, Reverted,
AlreadyServing: the Deployment rolls) or keeps them (Gated, ReindexFailed). Reverting the
spec to the served settings needs no Job (SettingsReverted). One re-index runs at a time:
a change made meanwhile starts when it ends. A failed or gated re-index runs again when
its Job is deleted (how a human asks for another attempt, e.g. after a threshold change).
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import backup_status, conditions, context, job_reports, k8s
from ragagent_operator.render import backup, event, reindex
from ragagent_operator.steps import index_status

REINDEXED = conditions.Type.REINDEXED
Reason = conditions.Reason
# Reasons whose re-index Job, once deleted, is made again.
STARTED = (Reason.REINDEXING, Reason.REINDEX_FAILED, Reason.GATED)
# Reasons carried over without reading a Job.
FINAL = (
    Reason.REINDEXED,
    Reason.SETTINGS_REVERTED,
    Reason.SWITCHED,
    Reason.REVERTED,
    Reason.ALREADY_SERVING,
)
HTTP_CONFLICT = 409


async def note_served_index(ctx: context.Context) -> None:
    """Which index settings serve: ``status.index.served``, moved on by a finished re-index
    Job that reports they serve (the spec's when the status has none: a new RagAgent, or one
    from before index generations, whose served hash is taken to be the recorded one)."""
    agent = ctx.agent
    status = ctx.body.get("status") or {}
    spec_settings = reindex.build_index_settings(agent)
    recorded = status.get("indexSettingsHash")
    served = (status.get("index") or {}).get("served")
    if not served:
        served = {**spec_settings, "hash": recorded or spec_settings["hash"]}
    old = conditions.find(ctx.body, REINDEXED)
    if recorded is not None and old is not None and old.get("reason") not in FINAL:
        job = await ctx.get("batch/v1", "Job", reindex.reindex_job_name(agent, recorded))
        if job is not None and not job["metadata"].get("deletionTimestamp"):
            ctx.rollout_job = job
            ctx.rollout_report = await _read_report(ctx, job)
            if index_status.build_outcome(job, ctx.rollout_report).serves:
                served = index_status.build_served_settings(job, spec_settings)
    ctx.served_index = dict(served)


async def _read_report(ctx: context.Context, job: dict[str, Any]) -> dict[str, Any]:
    """The finished Job's report line; {} while it runs or when it left none."""
    if backup_status.build_finished_job(job) is None:
        return {}
    meta = {**job.get("metadata", {}), "namespace": ctx.agent.namespace}
    line = await job_reports.read_termination_message(ctx.api, {**job, "metadata": meta})
    return backup_status.parse_result_line(line)


async def ensure_reindex(ctx: context.Context) -> None:
    agent = ctx.agent
    status = ctx.body.get("status") or {}
    wanted, recorded = reindex.index_settings_hash(agent), status.get("indexSettingsHash")
    served = ctx.served_index or reindex.build_index_settings(agent)
    job, old = ctx.rollout_job, conditions.find(ctx.body, REINDEXED)
    name = job["metadata"]["name"] if job else None
    ctx.index_settings_hash = recorded or wanted
    ctx.index_status = index_status.build_index_status(
        served, ctx.rollout_report, job=name, old=status.get("index")
    )
    if recorded is None:
        return  # a new RagAgent: its index is built with the spec's settings
    outcome = index_status.build_outcome(job, ctx.rollout_report) if job else None
    if outcome is not None and outcome.reason == Reason.GATED:
        await _warn_gated(ctx, job or {}, outcome, old)
    if outcome is not None and (outcome.reason == Reason.REINDEXING or wanted == recorded):
        message = outcome.message
        if outcome.reason == Reason.REINDEXING and wanted != recorded:
            message += "; the spec changed since: its re-index starts when this one ends"
        ctx.note(REINDEXED, outcome.status, outcome.reason, message)
        return
    reason = (old or {}).get("reason")
    if wanted == recorded and reason in (None, *FINAL):
        if old is not None:
            ctx.note(REINDEXED, old.get("status", "True"), old["reason"], old.get("message", ""))
        return
    if wanted == recorded and reason in STARTED:
        await _restart(ctx, wanted, old or {})
    elif wanted == served["hash"]:
        ctx.index_settings_hash = wanted
        message = "index settings are back to those the serving generation has: no re-index"
        ctx.note(REINDEXED, True, Reason.SETTINGS_REVERTED, message)
    else:
        await _start(ctx, wanted)


async def _restart(ctx: context.Context, wanted: str, old: dict[str, Any]) -> None:
    """The Job of a re-index that has not succeeded was deleted: make it again."""
    if ctx.restoring:  # the re-index writes: it starts again after the restore
        ctx.note(REINDEXED, False, old["reason"], old.get("message", ""))
        return
    name = await _ensure_job(ctx, wanted)
    if name is not None:
        ctx.note(REINDEXED, False, Reason.REINDEXING, f"re-index Job {name} started again")


async def _start(ctx: context.Context, wanted: str) -> None:
    """New index settings: after a restore and the backup, the re-index Job starts."""
    if ctx.restoring:  # a re-index writes: it starts once the restore is done
        ctx.reindex_waiting = True
        message = "the re-index starts after the restore"
        ctx.note(REINDEXED, False, Reason.WAITING_FOR_RESTORE, message)
        return
    if ctx.agent.spec.backup.enabled and not await _backup_succeeded(ctx, wanted):
        ctx.reindex_waiting = True
        return
    name = reindex.reindex_job_name(ctx.agent, wanted)
    live = await ctx.get("batch/v1", "Job", name)
    ctx.index_settings_hash = wanted
    if live is not None and not live["metadata"].get("deletionTimestamp"):
        # Made for these settings before: by a reconcile that read a status older than its
        # own write (never delete it then: it may be hours into its build), or by an earlier
        # change (its verdict stands; deleting it asks for another run). Followed from now on.
        message = f"re-index Job {name} of these settings exists: following it"
        ctx.note(REINDEXED, False, Reason.REINDEXING, message)
        return
    if await _ensure_job(ctx, wanted) is not None:
        ctx.note(REINDEXED, False, Reason.REINDEXING, f"re-index Job {name} started")


async def _ensure_job(ctx: context.Context, wanted: str) -> str | None:
    """Create the re-index Job for settings hash ``wanted``; its name, or None (noted) while
    an earlier Job of that name is still being deleted."""
    agent = ctx.agent
    name = reindex.reindex_job_name(agent, wanted)
    live = await ctx.get("batch/v1", "Job", name)
    if live is not None and live["metadata"].get("deletionTimestamp"):
        message = f"re-index Job {name} starts once its earlier namesake is deleted"
        ctx.note(REINDEXED, False, Reason.REINDEXING, message)
        return None
    image = ctx.settings.backup_image or agent.image
    await ctx.ensure(reindex.build_reindex_job(agent, settings_hash=wanted, image=image))
    return name


async def _warn_gated(
    ctx: context.Context,
    job: dict[str, Any],
    outcome: index_status.Outcome,
    old: conditions.Condition | None,
) -> None:
    """One Warning Event per gated Job (named by its uid, so a reconcile from a stale status
    is refused as a duplicate by the API server instead of warning twice)."""
    if (old or {}).get("reason") == Reason.GATED:
        return
    notice = event.build_event(
        ctx.agent,
        reason=Reason.GATED,
        message=f"new index generation not served: {outcome.message}",
        now=conditions.now_rfc3339(),
        warning=True,
    )
    meta = job.get("metadata", {})
    name = f"{meta.get('name')}.gated-{str(meta.get('uid', ''))[:8]}"
    notice["metadata"] = {"name": name, "namespace": ctx.agent.namespace}
    try:
        await k8s.create_event(ctx.api, notice)
    except k8s.ApiError as exc:
        if exc.status != HTTP_CONFLICT:  # 409: this Job's Event exists already
            raise


async def _backup_succeeded(ctx: context.Context, wanted: str) -> bool:
    """Create the backup Job once; say in Reconciled why the re-index waits or stopped."""
    agent = ctx.agent
    name = backup.pre_reindex_backup_name(agent, wanted)
    job = await k8s.get(ctx.api, "batch/v1", "Job", agent.namespace, name)
    if job is None:
        image = ctx.settings.backup_image or agent.image
        await ctx.ensure(
            backup.build_pre_reindex_backup_job(agent, settings_hash=wanted, image=image)
        )
    finished = backup_status.build_finished_jobs([job] if job else [])
    if not finished:
        message = f"index settings changed: re-index waits for backup Job {name}"
        _note_waiting(ctx, Reason.WAITING_FOR_BACKUP, message)
        return False
    if not finished[0].succeeded:
        reason = finished[0].report.get("reason") or "the Job failed"
        message = f"backup Job {name} failed ({reason}): re-index not started"
        _note_waiting(ctx, Reason.PRE_REINDEX_BACKUP_FAILED, message)
        return False
    return True


def _note_waiting(ctx: context.Context, reason: str, message: str) -> None:
    """The re-index waits for (or stopped at) its backup: Reconciled says so too."""
    ctx.note(conditions.Type.RECONCILED, False, reason, message)
    ctx.note(REINDEXED, False, reason, message)
