"""``status.usage`` and the ``BudgetExceeded`` condition, from the usage Job's report.

The usage CronJob (``render.usage_job``) runs ``ragagent usage --report``, whose one JSON
line (period, tokens in and out, cost, the agent's monthly limit) is its container's
termination message. The newest successful run is the one reported; while none has
finished (or the newest failed) the status keeps what it said before. The fraction is
always taken of the spec's current ``agentMonthlyTokens``, so raising the budget clears
the condition at once rather than at the next run.

``BudgetExceeded`` is absent without a monthly budget, Unknown until a report of the
current month arrives, True once the month's tokens reach the budget and False below it.
Crossing ``WARN_FRACTION`` of the budget sends one Warning Event; it fires again only
after the usage fell below (a new month, a raised budget) and crossed once more.

The ``build_*`` and ``is_*`` functions are pure; ``note_usage`` and ``emit_crossing`` do I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ragagent_operator import backup_status, conditions, context, job_reports, k8s
from ragagent_operator import constants as c
from ragagent_operator.render import common, event, usage_job

WARN_FRACTION = 0.8
NEARLY_SPENT = "BudgetNearlySpent"  # the Event's reason
HTTP_CONFLICT = 409


def build_usage(
    report: Mapping[str, Any], *, limit: int, reported_at: str | None
) -> dict[str, Any] | None:
    """``status.usage`` from a report line (None when it is no usage report)."""
    if not report.get("period"):
        return None
    usage = {
        "period": str(report["period"]),
        "tokensIn": int(report.get("tokens_in") or 0),
        "tokensOut": int(report.get("tokens_out") or 0),
        "cost": float(report.get("cost") or 0),
        "resetsAt": str(report.get("resets_at") or ""),
    }
    if reported_at:
        usage["reportedAt"] = reported_at
    return build_with_limit(usage, limit)


def build_with_limit(usage: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """``usage`` measured against ``limit`` (0: no monthly budget, no fraction)."""
    measured = {key: value for key, value in usage.items() if key != "fraction"}
    measured["monthlyLimit"] = limit
    if limit:
        used = int(usage.get("tokensIn") or 0) + int(usage.get("tokensOut") or 0)
        measured["fraction"] = round(used / limit, 4)
    return measured


def build_budget_condition(
    usage: Mapping[str, Any] | None, *, limit: int, name: str, now: datetime
) -> conditions.Condition | None:
    """BudgetExceeded for ``usage`` against the monthly ``limit``; None without a limit."""
    kind, why = conditions.Type.BUDGET_EXCEEDED, conditions.Reason
    if not limit:
        return None
    period = now.astimezone(UTC).strftime("%Y-%m")
    if usage is None or usage.get("period") != period:
        message = f"waiting for the first usage report of {period} (CronJob {name})"
        return conditions.build_condition(kind, "Unknown", why.WAITING_FOR_USAGE_REPORT, message)
    used = int(usage.get("tokensIn") or 0) + int(usage.get("tokensOut") or 0)
    fraction = float(usage.get("fraction") or 0)
    resets = usage.get("resetsAt") or "the start of next month"
    if fraction >= 1:
        message = f"the agent-monthly budget of {limit} tokens is spent ({used} used in "
        message += f"{period}); chat turns get 429 until it resets at {resets}"
        return conditions.build_condition(kind, True, why.MONTHLY_BUDGET_SPENT, message)
    message = f"{used} of {limit} tokens ({fraction:.0%}) of the agent-monthly budget used in "
    message += f"{period}; it resets at {resets}"
    return conditions.build_condition(kind, False, why.WITHIN_BUDGET, message)


def is_crossing(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    """True when ``new`` is at or past WARN_FRACTION and ``old`` (the status before) was
    not: below it, of another month, or not reported at all."""
    if not new or float(new.get("fraction") or 0) < WARN_FRACTION:
        return False
    if not old or old.get("period") != new.get("period"):
        return True
    return float(old.get("fraction") or 0) < WARN_FRACTION


async def note_usage(ctx: context.Context, now: datetime) -> dict[str, Any] | None:
    """Note BudgetExceeded and return ``status.usage`` (None while the spec reports none)."""
    agent = ctx.agent
    if not usage_job.is_reporting_usage(agent):
        return None
    limit = agent.spec.budgets.agent_monthly_tokens
    old = (ctx.body.get("status") or {}).get("usage")
    usage = await _newest_report(ctx, limit) if not ctx.fresh else None
    if usage is None and old:
        usage = build_with_limit(old, limit)
    name = usage_job.usage_cronjob_name(agent)
    cond = build_budget_condition(usage, limit=limit, name=name, now=now)
    if cond is not None:
        ctx.note(conditions.Type.BUDGET_EXCEEDED, cond["status"], cond["reason"], cond["message"])
    return usage


async def _newest_report(ctx: context.Context, limit: int) -> dict[str, Any] | None:
    """The newest successful usage Job's report as ``status.usage``; None when none."""
    namespace = ctx.agent.namespace
    selector = common.selector_labels(ctx.agent, c.COMPONENT_USAGE)
    listed = await k8s.list_objects(ctx.api, "batch/v1", "Job", namespace, selector)
    succeeded = [job for job in backup_status.build_finished_jobs(listed) if job.succeeded]
    if not succeeded:
        return None
    newest = succeeded[-1]
    job = next(item for item in listed if item.get("metadata", {}).get("name") == newest.name)
    meta = {**job.get("metadata", {}), "namespace": namespace}
    line = await job_reports.read_termination_message(ctx.api, {**job, "metadata": meta})
    report = backup_status.parse_result_line(line)
    return build_usage(report, limit=limit, reported_at=backup_status.format_time(newest.time))


def build_crossing_event(agent: common.Agent, usage: Mapping[str, Any]) -> common.Manifest:
    """The Warning Event of ``usage`` crossing WARN_FRACTION. Named by the month and the limit,
    which together name one crossing (within a month the fraction falls only when the limit
    is raised), so a reconcile that computed the crossing again from a stale status is
    refused as a duplicate by the API server instead of warning twice."""
    used = int(usage.get("tokensIn") or 0) + int(usage.get("tokensOut") or 0)
    limit = usage.get("monthlyLimit")
    message = f"{float(usage['fraction']):.0%} of the agent-monthly budget is used in "
    message += f"{usage.get('period')}: {used} of {limit} tokens; chat turns get 429 once it "
    message += f"is spent, until it resets at {usage.get('resetsAt')}"
    notice = event.build_event(
        agent, reason=NEARLY_SPENT, message=message, now=conditions.now_rfc3339(), warning=True
    )
    name = f"{agent.name}.budget-{usage.get('period')}-{limit}"
    notice["metadata"] = {"name": name, "namespace": agent.namespace}
    return notice


async def emit_crossing(
    ctx: context.Context, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> None:
    """One Warning Event when the usage crossed WARN_FRACTION of the monthly budget."""
    if new is None or not is_crossing(old, new):
        return
    try:
        await k8s.create_event(ctx.api, build_crossing_event(ctx.agent, new))
    except k8s.ApiError as exc:
        if exc.status != HTTP_CONFLICT:  # 409: this crossing's Event exists already
            raise
