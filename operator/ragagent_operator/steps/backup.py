"""The backup step: the CronJob of scheduled backups and the volume they are written to."""

from __future__ import annotations

from ragagent_operator import context
from ragagent_operator.render import backup


async def ensure_backup(ctx: context.Context) -> None:
    """Disabling backups removes the CronJob but keeps the PVC: it holds the backups."""
    agent = ctx.agent
    image = ctx.settings.backup_image or agent.image
    cron = backup.build_backup_cronjob(agent, image=image, suspend=ctx.restoring)
    if not agent.spec.backup.enabled:
        await ctx.delete(cron)
        return
    claim = backup.build_backup_pvc(agent)
    if claim is not None:
        await ctx.ensure(claim)
    await ctx.ensure(cron)
