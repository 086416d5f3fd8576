"""Backup before a risky change: new index settings re-index only after a backup succeeded.

``status.indexSettingsHash`` records the settings the index is built (or being
rebuilt) with. A new RagAgent starts with its first settings and needs no
re-index. When the hash changes and backups are enabled, the step creates a
one-off backup Job for the new hash and waits for it; only its success lets the
re-index Job start, and only then does the recorded hash move on.

The ``Reindexed`` condition follows one change to the end: WaitingForBackup,
PreReindexBackupFailed, Reindexing, then Reindexed or ReindexFailed. Once it
succeeded it is carried over without reading the Job again; a failed re-index
runs again when its Job is deleted. An agent that never re-indexed has no such
condition.
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import backup_status, conditions, context, k8s
from ragagent_operator.render import backup, reindex

REINDEXED = conditions.Type.REINDEXED
# Reasons that mean the re-index Job of the recorded settings was created.
STARTED = (conditions.Reason.REINDEXING, conditions.Reason.REINDEX_FAILED)
# Reasons carried over without reading a Job.
FINAL = (conditions.Reason.REINDEXED, conditions.Reason.SETTINGS_REVERTED)


async def ensure_reindex(ctx: context.Context) -> None:
    agent = ctx.agent
    wanted = reindex.index_settings_hash(agent)
    recorded = (ctx.body.get("status") or {}).get("indexSettingsHash")
    if recorded in (None, wanted):
        ctx.index_settings_hash = wanted
        if recorded is not None:
            await _track_reindex(ctx, wanted)
        return
    if ctx.restoring:  # a re-index writes: it starts once the restore is done
        ctx.reindex_waiting = True
        message = "the re-index starts after the restore"
        ctx.note(REINDEXED, False, conditions.Reason.WAITING_FOR_RESTORE, message)
        return
    if agent.spec.backup.enabled and not await _backup_succeeded(ctx, wanted):
        ctx.reindex_waiting = True
        return
    name = await _start_reindex(ctx, wanted)
    ctx.index_settings_hash = wanted
    ctx.note(REINDEXED, False, conditions.Reason.REINDEXING, f"re-index Job {name} started")


async def _start_reindex(ctx: context.Context, wanted: str) -> str:
    """Create the re-index Job for settings hash ``wanted``; returns its name."""
    image = ctx.settings.backup_image or ctx.agent.image
    await ctx.ensure(reindex.build_reindex_job(ctx.agent, settings_hash=wanted, image=image))
    return reindex.reindex_job_name(ctx.agent, wanted)


async def _track_reindex(ctx: context.Context, wanted: str) -> None:
    """The state of the index built with the current settings; only success is carried over.

    A failed re-index is read again on every resync, because deleting its Job is how a
    human asks for another attempt (backoffLimit 1 stops after a second failure): the
    missing Job of a re-index that has not succeeded is made again.
    """
    old = conditions.find(ctx.body, REINDEXED)
    if old is None or old.get("reason") in FINAL:
        if old is not None:
            ctx.note(REINDEXED, old.get("status", "True"), old["reason"], old.get("message", ""))
        return
    agent = ctx.agent
    name = reindex.reindex_job_name(agent, wanted)
    job = await k8s.get(ctx.api, "batch/v1", "Job", agent.namespace, name)
    if job is not None:
        ctx.note(REINDEXED, *build_reindex_state(name, job))
    elif old.get("reason") not in STARTED:
        # A change given up before its re-index began: the settings are the index's again.
        message = "index settings are back to those the index is built with"
        ctx.note(REINDEXED, True, conditions.Reason.SETTINGS_REVERTED, message)
    elif ctx.restoring:  # the re-index writes: it starts again after the restore
        ctx.note(REINDEXED, False, old["reason"], old.get("message", ""))
    else:
        await _start_reindex(ctx, wanted)
        ctx.note(
            REINDEXED, False, conditions.Reason.REINDEXING, f"re-index Job {name} started again"
        )


def build_reindex_state(name: str, job: dict[str, Any]) -> tuple[str, str, str]:
    """(status, reason, message) of the Reindexed condition for re-index Job ``name``."""
    finished = backup_status.build_finished_job(job)
    if finished is None:
        return "False", conditions.Reason.REINDEXING, f"re-index Job {name} is running"
    when = backup_status.format_time(finished.time)
    if finished.succeeded:
        return "True", conditions.Reason.REINDEXED, f"index rebuilt by Job {name} at {when}"
    message = (
        f"re-index Job {name} failed at {when}; see kubectl logs job/{name}, "
        "then delete the Job to try again"
    )
    return "False", conditions.Reason.REINDEX_FAILED, message


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
        _note_waiting(ctx, conditions.Reason.WAITING_FOR_BACKUP, message)
        return False
    if not finished[0].succeeded:
        reason = finished[0].report.get("reason") or "the Job failed"
        message = f"backup Job {name} failed ({reason}): re-index not started"
        _note_waiting(ctx, conditions.Reason.PRE_REINDEX_BACKUP_FAILED, message)
        return False
    return True


def _note_waiting(ctx: context.Context, reason: str, message: str) -> None:
    """The re-index waits for (or stopped at) its backup: Reconciled says so too."""
    ctx.note(conditions.Type.RECONCILED, False, reason, message)
    ctx.note(REINDEXED, False, reason, message)
