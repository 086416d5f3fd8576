"""The reconcile steps of one RagAgent, in the order ``reconcile`` runs them.

Each step renders its children (pure: ``render``) and hands them to
``Context.ensure``, which writes only when the live object differs, so a step
whose inputs did not change writes nothing. ``STATUS`` runs after all of them,
with the names of the steps that failed, and on its own (None) when a child
changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ragagent_operator import context
from ragagent_operator.steps import (
    backup,
    backup_secrets,
    ingest,
    monitoring,
    postgres_tls,
    reindex,
    restore,
    secrets,
    status,
    usage,
    workload,
)

Step = Callable[[context.Context], Awaitable[None]]

STEPS: list[tuple[str, Step]] = [
    ("serviceaccount", workload.ensure_service_account),
    ("secrets", secrets.ensure_secrets),
    ("backupsecrets", backup_secrets.ensure_backup_secrets),
    ("postgrestls", postgres_tls.ensure_postgres_tls),  # the managed database's certificates
    ("servedindex", reindex.note_served_index),  # the index settings the agent serves with
    ("configmap", workload.ensure_config_map),
    ("database", workload.ensure_database),
    ("restore", restore.ensure_restore),  # before the workload: a restore holds the agent at 0
    ("deployment", workload.ensure_deployment),
    ("service", workload.ensure_service),
    ("pdb", workload.ensure_pdb),
    ("autoscaling", workload.ensure_autoscaling),
    ("networkpolicy", workload.ensure_network_policies),
    ("reindex", reindex.ensure_reindex),  # before ingest: new index settings wait for a backup
    ("ingest", ingest.ensure_ingest),
    ("backup", backup.ensure_backup),
    ("usage", usage.ensure_usage),  # the CronJob that reports the month's token usage
    ("monitoring", monitoring.ensure_monitoring),
]
STATUS = status.ensure_status
# What a step reads from earlier ones; steps wait only for these, the rest run at once.
NEEDS: dict[str, tuple[str, ...]] = {
    "database": ("secrets", "postgrestls"),  # its pods read both: not if either was refused
    "deployment": ("secrets", "configmap"),  # the pod template hashes both
    # The ConfigMap, the agent's and ingest's egress and the re-index follow the served index.
    "configmap": ("servedindex",),
    "networkpolicy": ("servedindex",),
    "reindex": ("servedindex",),
    "ingest": ("reindex",),  # new index settings hold the ingest until their backup
}
# A barrier runs after every step listed before it and before every step listed after it
# (a restore swaps in an agent held at 0 replicas for the steps that follow).
BARRIERS = frozenset({"restore"})
