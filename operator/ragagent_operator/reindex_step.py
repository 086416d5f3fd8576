"""Backup before a risky change: new index settings re-index only after a backup succeeded.

``status.indexSettingsHash`` records the settings the index is built (or being
rebuilt) with. A new RagAgent starts with its first settings and needs no
re-index. When the hash changes and backups are enabled, the step creates a
one-off backup Job for the new hash and waits for it; only its success lets the
re-index Job start, and only then does the recorded hash move on.
"""

from __future__ import annotations

from ragagent_operator import backup_status, k8s
from ragagent_operator.context import Context
from ragagent_operator.render import backup, reindex

FACT = "index_settings_hash"


async def ensure_reindex(ctx: Context) -> None:
    agent = ctx.agent
    wanted = reindex.index_settings_hash(agent)
    recorded = (ctx.body.get("status") or {}).get("indexSettingsHash")
    if recorded in (None, wanted):
        ctx.facts[FACT] = wanted
        return
    if agent.spec.backup.enabled and not await _backup_succeeded(ctx, wanted):
        ctx.facts["reindex_waiting"] = True
        return
    image = ctx.settings.backup_image or agent.image
    await ctx.ensure(reindex.build_reindex_job(agent, settings_hash=wanted, image=image))
    ctx.facts[FACT] = wanted


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
        return False
    if not finished[0].succeeded:
        reason = finished[0].report.get("reason") or "the Job failed"
        message = f"backup Job {name} failed ({reason}): re-index not started"
        ctx.note("Reconciled", False, "PreReindexBackupFailed", message)
        return False
    return True
