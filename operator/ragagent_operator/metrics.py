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

# Per-RagAgent gauges for the replica and backup panels and alerts; steps/status.py sets them.
_AGENT = ["namespace", "ragagent"]
AGENT_READY_REPLICAS = Gauge(
    "ragagent_operator_agent_ready_replicas", "Ready pods of the agent Deployment.", _AGENT
)
AGENT_DESIRED_REPLICAS = Gauge(
    "ragagent_operator_agent_desired_replicas", "Replicas the agent Deployment asks for.", _AGENT
)
LAST_BACKUP_TIMESTAMP = Gauge(
    "ragagent_operator_last_backup_timestamp_seconds",
    "Unix time the newest successful backup Job finished.",
    _AGENT,
)
BACKUP_SUCCESS = Gauge(
    "ragagent_operator_backup_success", "1 if the newest finished backup succeeded, else 0.", _AGENT
)
BACKUP_GAUGES = (LAST_BACKUP_TIMESTAMP, BACKUP_SUCCESS)
# Labelled with the controller's namespace and service, as the expiry alert expects.
SEALING_CERT_EXPIRY = Gauge(
    "ragagent_operator_sealing_cert_expiry_timestamp_seconds",
    "Unix time the sealed-secrets certificate the operator seals with expires.",
    ["namespace", "service"],
)


def forget_backup(namespace: str, name: str) -> None:
    """Drop one RagAgent's backup series (backups disabled, or the RagAgent deleted)."""
    for gauge in BACKUP_GAUGES:
        gauge.remove(namespace, name)  # a no-op when never set


def forget_agent(namespace: str, name: str) -> None:
    """Drop every per-RagAgent series once the RagAgent is deleted."""
    for gauge in (AGENT_READY_REPLICAS, AGENT_DESIRED_REPLICAS):
        gauge.remove(namespace, name)  # a no-op when never set
    forget_backup(namespace, name)
