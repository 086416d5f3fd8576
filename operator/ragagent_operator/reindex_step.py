"""Backup before a risky change: new index settings re-index only after a backup succeeded.

``status.indexSettingsHash`` records the settings the index is built (or being
rebuilt) with. A new RagAgent starts with its first settings and needs no
re-index. When the hash changes and backups are enabled, the step creates a
one-off backup Job for the new hash and waits for it; only its success lets the
re-index Job start, and only then does the recorded hash move on.

The ``Reindexed`` condition follows one change to the end: WaitingForBackup,
PreReindexBackupFailed, Reindexing, then Reindexed or ReindexFailed. Once it is
final it is carried over without reading the Job again; an agent that never
re-indexed has no such condition.
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import backup_status, k8s
from ragagent_operator.context import Context
from ragagent_operator.render import backup, reindex

FACT = "index_settings_hash"
CONDITION = "Reindexed"
IN_PROGRESS = ("WaitingForBackup", "Reindexing")


async def ensure_reindex(ctx: Context) -> None:
    agent = ctx.agent
    wanted = reindex.index_settings_hash(agent)
    recorded = (ctx.body.get("status") or {}).get("indexSettingsHash")
    if recorded in (None, wanted):
        ctx.facts[FACT] = wanted
        if recorded is not None:
            await _track_reindex(ctx, wanted)
        return
    if ctx.facts.get("restoring"):  # a re-index writes: it starts once the restore is done
        ctx.facts["reindex_waiting"] = True
        ctx.note(CONDITION, False, "WaitingForRestore", "the re-index starts after the restore")
        return
    if agent.spec.backup.enabled and not await _backup_succeeded(ctx, wanted):
        ctx.facts["reindex_waiting"] = True
        return
    image = ctx.settings.backup_image or agent.image
    await ctx.ensure(reindex.build_reindex_job(agent, settings_hash=wanted, image=image))
    ctx.facts[FACT] = wanted
    name = reindex.reindex_job_name(agent, wanted)
    ctx.note(CONDITION, False, "Reindexing", f"re-index Job {name} started")


async def _track_reindex(ctx: Context, wanted: str) -> None:
    """Follow the re-index Job of the current settings until it finished, then carry that."""
    old = _previous_condition(ctx)
    if old is None:
        return
    if old.get("reason") not in IN_PROGRESS:
        ctx.note(CONDITION, old.get("status", "Unknown"), old["reason"], old.get("message", ""))
        return
    agent = ctx.agent
    name = reindex.reindex_job_name(agent, wanted)
    job = await k8s.get(ctx.api, "batch/v1", "Job", agent.namespace, name)
    ctx.note(CONDITION, *build_reindex_state(name, job))


def build_reindex_state(name: str, job: dict[str, Any] | None) -> tuple[str, str, str]:
    """(status, reason, message) of the Reindexed condition for re-index Job ``name``."""
    if job is None:
        return "False", "ReindexFailed", f"re-index Job {name} is gone before it finished"
    finished = backup_status.build_finished_job(job)
    if finished is None:
        return "False", "Reindexing", f"re-index Job {name} is running"
    when = backup_status.format_time(finished.time)
    if finished.succeeded:
        return "True", "Reindexed", f"index rebuilt by Job {name} at {when}"
    message = f"re-index Job {name} failed at {when}; see kubectl logs job/{name}"
    return "False", "ReindexFailed", message


def _previous_condition(ctx: Context) -> dict[str, Any] | None:
    for cond in (ctx.body.get("status") or {}).get("conditions") or []:
        if cond.get("type") == CONDITION:
            return dict(cond)
    return None


async def _backup_succeeded(ctx: Context, wanted: str) -> bool:
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
        ctx.note("Reconciled", False, "WaitingForBackup", message)
        ctx.note(CONDITION, False, "WaitingForBackup", message)
        return False
    if not finished[0].succeeded:
        reason = finished[0].report.get("reason") or "the Job failed"
        message = f"backup Job {name} failed ({reason}): re-index not started"
        ctx.note("Reconciled", False, "PreReindexBackupFailed", message)
        ctx.note(CONDITION, False, "PreReindexBackupFailed", message)
        return False
    return True
