"""The operator's Prometheus metrics (served by main on settings.metrics_port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter(
    "ragagent_operator_reconciles_total", "Reconciles by trigger and result.", ["trigger", "result"]
)
RECONCILE_DURATION = Histogram(
    "ragagent_operator_reconcile_duration_seconds", "Duration of a whole reconcile."
)
STEP_DURATION = Histogram(
    "ragagent_operator_step_duration_seconds", "Duration of one reconcile step.", ["step"]
)
STEP_ERRORS = Counter(
    "ragagent_operator_step_errors_total", "Reconcile steps that raised, by step.", ["step"]
)
API_REQUESTS = Counter(
    "ragagent_operator_api_requests_total", "Requests sent to the API server, by verb.", ["verb"]
)
WATCHED = Gauge("ragagent_operator_watched_ragagents", "RagAgents this replica has reconciled.")
