"""Prometheus Operator objects: a ServiceMonitor and a PrometheusRule per agent.

Rendered only when the monitoring.coreos.com CRDs exist; the reconciler
reports a skipped condition otherwise.
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render.common import Agent, Manifest, metadata, name_of, selector_labels


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
    job = f'namespace="{agent.namespace}",service="{agent.name}"'
    rules = [
        _alert(
            "RagAgentHighErrorRate",
            f'sum(rate(ragagent_http_requests_total{{{job},status=~"5.."}}[5m]))'
            f" / sum(rate(ragagent_http_requests_total{{{job}}}[5m])) > 0.05",
            "More than 5% of requests fail with 5xx.",
            "high-error-rate",
        ),
        _alert(
            "RagAgentLLMErrors",
            f"sum(rate(ragagent_llm_errors_total{{{job}}}[5m])) > 0.1",
            "The LLM endpoint keeps failing.",
            "llm-errors",
        ),
        _alert(
            "RagAgentDown",
            f"absent(up{{{job}}} == 1)",
            "No agent pod is being scraped.",
            "no-ready-replicas",
        ),
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(agent, name_of(agent), c.COMPONENT_AGENT),
        "spec": {"groups": [{"name": f"ragagent-{agent.name}", "rules": rules}]},
    }


RUNBOOKS = "https://github.com/ragagent/ragagent/blob/main/docs/runbooks"


def _alert(name: str, expr: str, summary: str, runbook: str) -> dict[str, Any]:
    """``runbook`` names a file in docs/runbooks/, the same ones the chart's alerts link."""
    return {
        "alert": name,
        "expr": expr,
        "for": "10m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": summary,
            "runbook_url": f"{RUNBOOKS}/{runbook}.md",
        },
    }
