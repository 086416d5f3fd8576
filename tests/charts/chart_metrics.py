"""The metric names the dashboards and alerts may use, and promtool, for the source tests."""

from __future__ import annotations

import re
import shutil

from prometheus_client import CollectorRegistry

from tests.support.fixtures_cluster import skip_loudly_or_fail

# The operator's metrics the dashboards and alerts use, as ragagent_operator.metrics defines them.
OPERATOR_METRICS = {
    "ragagent_operator_reconciles_total": "counter",
    "ragagent_operator_reconcile_duration_seconds": "histogram",
    "ragagent_operator_step_duration_seconds": "histogram",
    "ragagent_operator_step_errors_total": "counter",
    "ragagent_operator_api_requests_total": "counter",
    "ragagent_operator_watched_ragagents": "gauge",
}
# Per-RagAgent gauges (labels namespace, ragagent) for the replica and backup panels and alerts,
# and the sealing certificate's expiry (labels namespace, service).
OPERATOR_REQUESTED_METRICS = {
    "ragagent_operator_agent_ready_replicas": "gauge",
    "ragagent_operator_agent_desired_replicas": "gauge",
    "ragagent_operator_last_backup_timestamp_seconds": "gauge",
    "ragagent_operator_backup_success": "gauge",
    "ragagent_operator_sealing_cert_expiry_timestamp_seconds": "gauge",
}
# Series from kube-state-metrics, which every Prometheus Operator install ships.
EXTERNAL_METRICS = {
    "kube_horizontalpodautoscaler_spec_min_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
PROMQL_WORDS |= {"unless", "bool", "offset", "le", "inf", "nan"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def series_names(registry: CollectorRegistry) -> set[str]:
    """Every series name a registry can expose, derived from its families' names and types."""
    names: set[str] = set()
    for family in registry.collect():
        base = family.name.removesuffix("_total")
        names |= {base + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
    return names


def operator_series_names() -> set[str]:
    names = set()
    for name, kind in (OPERATOR_METRICS | OPERATOR_REQUESTED_METRICS).items():
        base = name.removesuffix("_total")
        names |= {base + suffix for suffix in _SUFFIXES[kind]}
    return names


def metric_names_in(expr: str) -> set[str]:
    """Metric names referenced by a PromQL expression (label matchers, ranges, calls removed)."""
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", text)
    tokens = re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()", text)
    return {t for t in tokens if t.lower() not in PROMQL_WORDS and not re.fullmatch(r"\d.*", t)}


def promtool() -> str:
    """The promtool on PATH; skips loudly without it (fails in CI)."""
    found = shutil.which("promtool")
    if found is None:
        skip_loudly_or_fail(
            "!!! promtool missing: alert and query checks NOT RUN !!! "
            "`make system-deps` installs Debian prometheus"
        )
    return found
