"""Prometheus Operator objects: a ServiceMonitor and a PrometheusRule per agent.

Rendered only when the monitoring.coreos.com CRDs exist; the reconciler
reports a skipped condition otherwise.

An alert lives with the metrics it reads, so each one exists exactly once: this
PrometheusRule holds the alerts on the agent's own series (scraped through the
ServiceMonitor beside it, and gone with it), while the chart's PrometheusRule
(charts/ragagent-operator/alerts/ragagent.rules.yaml) holds the alerts on the
operator's series. tests/charts/test_alerts.py checks that no name is in both and
runs promtool's unit tests on the rules rendered here.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template
from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render.common import Agent, Manifest, metadata, name_of, selector_labels

RUNBOOKS = "https://github.com/ragagent/ragagent/blob/main/docs/runbooks"


@dataclass(frozen=True)
class AgentAlert:
    """One alert on an agent's series. ``expr`` marks the agent's label matchers with
    ``$agent``; ``pending_for`` is how long it must hold before the alert fires; ``runbook``
    names a file in docs/runbooks/."""

    name: str
    expr: str
    pending_for: str
    severity: str
    summary: str
    description: str
    runbook: str


AGENT_ALERTS = (
    AgentAlert(
        "RagAgentHighErrorRate",
        # Ratio of 5xx answers; the traffic floor keeps one failed request at 3 a.m. from paging.
        "(sum by (namespace, service)"
        ' (rate(ragagent_http_requests_total{$agent,status=~"5.."}[5m]))'
        " / sum by (namespace, service) (rate(ragagent_http_requests_total{$agent}[5m])))"
        " > 0.05 and sum by (namespace, service)"
        " (rate(ragagent_http_requests_total{$agent}[5m])) > 0.05",
        "10m",
        "critical",
        "RagAgent {{ $labels.namespace }}/{{ $labels.service }} fails"
        " {{ $value | humanizePercentage }} of requests",
        "More than 5% of HTTP requests to {{ $labels.namespace }}/{{ $labels.service }} have"
        " ended with a 5xx status for 10 minutes. Check the database, the LLM endpoint and the"
        " agent's logs.",
        "high-error-rate",
    ),
    AgentAlert(
        "RagAgentHighLatency",
        # p95 over the 2.5 s SLO (a histogram bucket boundary, so the estimate is exact there).
        "histogram_quantile(0.95, sum by (namespace, service, le)"
        " (rate(ragagent_http_request_duration_seconds_bucket{$agent}[5m]))) > 2.5",
        "15m",
        "warning",
        "RagAgent {{ $labels.namespace }}/{{ $labels.service }} p95 latency is"
        " {{ $value | humanizeDuration }}",
        "The 95th percentile of HTTP request latency of {{ $labels.namespace }}/"
        "{{ $labels.service }} has been above the 2.5 s SLO for 15 minutes.",
        "high-latency",
    ),
    AgentAlert(
        "RagAgentLLMErrors",
        # Timeouts, 5xx, open circuit breaker... everything except the provider's 429s.
        "sum by (namespace, service, provider)"
        ' (increase(ragagent_llm_errors_total{$agent,kind!="rate_limited"}[10m])) > 5',
        "5m",
        "critical",
        "RagAgent {{ $labels.namespace }}/{{ $labels.service }}: {{ $value | humanize }} LLM"
        " errors in 10 minutes ({{ $labels.provider }})",
        "Calls from {{ $labels.namespace }}/{{ $labels.service }} to the {{ $labels.provider }}"
        " LLM keep failing (timeouts, server errors or an open circuit breaker). Chat answers"
        " degrade or fail.",
        "llm-errors",
    ),
    AgentAlert(
        "RagAgentLLMRateLimited",
        # The LLM provider answers 429: the account's quota is too small for the traffic.
        "sum by (namespace, service, provider)"
        ' (increase(ragagent_llm_errors_total{$agent,kind="rate_limited"}[10m])) > 0',
        "10m",
        "warning",
        "RagAgent {{ $labels.namespace }}/{{ $labels.service }} is rate-limited by its LLM"
        " provider ({{ $labels.provider }})",
        "The {{ $labels.provider }} LLM has answered 429 Too Many Requests to"
        " {{ $labels.namespace }}/{{ $labels.service }} for 10 minutes. Raise the provider quota"
        " or lower the agent's rate limits.",
        "llm-errors",
    ),
    AgentAlert(
        "RagAgentApiKeysExpiring",
        # Every replica counts the same table, so max, not sum; the gauge refreshes every 5 min.
        "max by (namespace, service) (ragagent_api_keys_expiring{$agent}) > 0",
        "15m",
        "warning",
        "RagAgent {{ $labels.namespace }}/{{ $labels.service }}: {{ $value | humanize }} API"
        " keys expire within 7 days",
        "Active API keys of {{ $labels.namespace }}/{{ $labels.service }} reach their expiry"
        " within 7 days; their callers then get 401. List them with `ragagent apikey list`"
        " and issue replacements.",
        "rotating-secrets",
    ),
)
# The agent-monthly token budget, from the agent's gauges (every replica reads the same
# database row, so max). Agents without a monthly budget export a limit of 0, which the
# "> 0" filter drops, so they never fire.
_BUDGET_FRACTION = (
    "max by (namespace, service) (ragagent_budget_month_used_tokens{$agent})"
    " / max by (namespace, service) (ragagent_budget_month_limit_tokens{$agent} > 0)"
)
BUDGET_ALERTS = (
    AgentAlert(
        "RagAgentBudgetNearlySpent",
        f"{_BUDGET_FRACTION} >= 0.8",
        "5m",
        "warning",
        "RagAgent {{ $labels.namespace }}/{{ $labels.service }} has used"
        " {{ $value | humanizePercentage }} of its monthly LLM token budget",
        "{{ $labels.namespace }}/{{ $labels.service }} has spent 80% or more of"
        " spec.budgets.agentMonthlyTokens this month. Once it is spent, every chat turn gets"
        " 429 until the first of next month (UTC).",
        "llm-budget",
    ),
    AgentAlert(
        "RagAgentBudgetExhausted",
        # The gauge may stop short of 100 %: a turn reserves an upper estimate, so the budget
        # refuses turns once what is left is less than that. The refusals say so at once.
        f"{_BUDGET_FRACTION} >= 1 or sum by (namespace, service)"
        ' (increase(ragagent_budget_refused_total{$agent,budget="agent-monthly"}[10m])) > 0',
        "1m",
        "critical",
        "RagAgent {{ $labels.namespace }}/{{ $labels.service }} has spent its monthly LLM"
        " token budget",
        "{{ $labels.namespace }}/{{ $labels.service }} refuses chat turns with 429: its"
        " agent-monthly LLM token budget has no room left until the first of next month (UTC).",
        "llm-budget",
    ),
)
# Every target down, or none left at all. absent() needs the agent's exact matchers, which is
# why no fleet-wide rule can say this; on a bare selector it keeps their labels.
AGENT_DOWN = AgentAlert(
    "RagAgentDown",
    "sum by (namespace, service) (up{$agent}) == 0 or absent(up{$agent})",
    "10m",
    "warning",
    "Prometheus scrapes no pod of RagAgent {{ $labels.namespace }}/{{ $labels.service }}",
    "No pod of {{ $labels.namespace }}/{{ $labels.service }} has answered a metrics scrape for"
    " 10 minutes, so every other alert on this agent is blind. Either its pods are down"
    " (RagAgentNoReadyReplicas fires too) or Prometheus cannot reach or does not select them.",
    "no-ready-replicas",
)


def build_service_monitor(agent: Agent) -> Manifest:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(agent, name_of(agent), c.COMPONENT_AGENT),
        "spec": {
            "selector": {"matchLabels": selector_labels(agent, c.COMPONENT_AGENT)},
            "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
        },
    }


def build_prometheus_rule(agent: Agent) -> Manifest:
    """RagAgentDown is left out while the agent wants no pod (``replicas: 0``, or held at 0
    during a restore): no scrape is then the expected state, not an outage."""
    alerts = AGENT_ALERTS + BUDGET_ALERTS + ((AGENT_DOWN,) if is_expecting_pods(agent) else ())
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(agent, name_of(agent), c.COMPONENT_AGENT),
        "spec": {
            "groups": [
                {"name": f"ragagent-{agent.name}", "rules": [_rule(agent, a) for a in alerts]}
            ]
        },
    }


def is_expecting_pods(agent: Agent) -> bool:
    """True when the spec asks for at least one agent pod."""
    return agent.spec.autoscaling.enabled or agent.spec.replicas > 0


def _rule(agent: Agent, alert: AgentAlert) -> dict[str, Any]:
    matchers = f'namespace="{agent.namespace}",service="{name_of(agent)}"'
    return {
        "alert": alert.name,
        "expr": Template(alert.expr).substitute(agent=matchers),
        "for": alert.pending_for,
        "labels": {"severity": alert.severity},
        "annotations": {
            "summary": alert.summary,
            "description": alert.description,
            "runbook_url": f"{RUNBOOKS}/{alert.runbook}.md",
        },
    }
