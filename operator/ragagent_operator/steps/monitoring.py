"""The monitoring step: the ServiceMonitor and PrometheusRule, where their CRDs are served."""

from __future__ import annotations

from ragagent_operator import conditions, context, k8s
from ragagent_operator.render import monitoring

MONITORING_GV = "monitoring.coreos.com/v1"


async def ensure_monitoring(ctx: context.Context) -> None:
    """Only with the Prometheus Operator CRDs; otherwise say so in MonitoringReady."""
    agent = ctx.agent
    wanted = agent.spec.observability
    if not await k8s.group_version_exists(ctx.api, MONITORING_GV):
        if wanted.service_monitor or wanted.prometheus_rule:
            ctx.note(
                conditions.Type.MONITORING_READY,
                False,
                conditions.Reason.PROMETHEUS_OPERATOR_MISSING,
                "monitoring.coreos.com/v1 is not served; ServiceMonitor and PrometheusRule skipped",
            )
        return
    for enabled, manifest in (
        (wanted.service_monitor, monitoring.build_service_monitor(agent)),
        (wanted.prometheus_rule, monitoring.build_prometheus_rule(agent)),
    ):
        await (ctx.ensure(manifest) if enabled else ctx.delete(manifest))
    ctx.note(conditions.Type.MONITORING_READY, True, conditions.Reason.MONITORING_APPLIED, "")
