"""The usage step: the CronJob that reports the month's token usage (``render.usage_job``)."""

from __future__ import annotations

from ragagent_operator import context
from ragagent_operator.render import usage_job


async def ensure_usage(ctx: context.Context) -> None:
    """The CronJob while the spec has a monthly budget or prices; removed otherwise."""
    agent = ctx.agent
    image = ctx.settings.backup_image or agent.image
    cron = usage_job.build_usage_cronjob(agent, image=image, suspend=ctx.restoring)
    if usage_job.is_reporting_usage(agent):
        await ctx.ensure(cron)
    else:
        await ctx.delete(cron)
