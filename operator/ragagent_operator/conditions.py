"""Kubernetes-style conditions: their types and reasons, building, merging into the status,
and their transitions.

Every condition type and reason the operator writes is a member of ``Type`` or
``Reason`` (string enums, so they compare equal to, and serialize as, their text).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

Condition = dict[str, Any]


class Type(enum.StrEnum):
    """Condition types, in the order ``status.conditions`` lists them."""

    READY = "Ready"
    RECONCILED = "Reconciled"
    DEPLOYMENT_AVAILABLE = "DeploymentAvailable"
    SECRETS_READY = "SecretsReady"
    DATABASE_READY = "DatabaseReady"
    BACKUP_READY = "BackupReady"
    RESTORED = "Restored"
    REINDEXED = "Reindexed"
    KNOWLEDGE_SYNCED = "KnowledgeSynced"
    MONITORING_READY = "MonitoringReady"
    # True is the bad state: the agent-monthly token budget is spent.
    BUDGET_EXCEEDED = "BudgetExceeded"


class Reason(enum.StrEnum):
    """Condition reasons, grouped by the condition type that gives them."""

    AGENT_READY = "AgentReady"  # Ready
    WAITING = "Waiting"
    RECONCILE_SUCCEEDED = "ReconcileSucceeded"  # Reconciled
    STEP_FAILED = "StepFailed"
    CHILD_CONFLICT = "ChildConflict"  # a namesake the RagAgent does not own blocks a child
    MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"  # DeploymentAvailable
    DEPLOYMENT_UNAVAILABLE = "DeploymentUnavailable"
    CONTAINER_CRASH_LOOPING = "ContainerCrashLooping"  # and DatabaseReady, and so Ready
    IMAGE_PULL_FAILED = "ImagePullFailed"
    CONTAINER_CONFIG_ERROR = "ContainerConfigError"
    SECRETS_PRESENT = "SecretsPresent"  # SecretsReady
    WAITING_FOR_UNSEAL = "WaitingForUnseal"
    SECRET_NOT_FOUND = "SecretNotFound"  # noqa: S105 (a reason)
    # A referenced Secret (SecretsReady) or knowledge ConfigMap (Reconciled) lacks the label
    # ragagent.dev/use=true: nothing that would expose it is written.
    REFERENCE_NOT_ALLOWED = "ReferenceNotAllowed"
    SEALED_SECRETS_CRD_MISSING = "SealedSecretsCRDMissing"
    SEALED_SECRETS_CONTROLLER_UNAVAILABLE = "SealedSecretsControllerUnavailable"
    SEALING_CERT_EXPIRED = "SealingCertificateExpired"
    SEALING_CERT_NOT_YET_VALID = "SealingCertificateNotYetValid"
    SEALING_CERT_PIN_MISMATCH = "SealingCertificatePinMismatch"
    POSTGRES_READY = "PostgresReady"  # DatabaseReady
    POSTGRES_NOT_READY = "PostgresNotReady"
    EXTERNAL_DATABASE = "ExternalDatabase"
    DATABASE_SECRET_MISSING = "DatabaseSecretMissing"  # noqa: S105 (a reason)
    # The external database URL does not verify the server (the agent refuses it).
    DATABASE_TLS_NOT_VERIFIED = "DatabaseTLSNotVerified"
    BACKUP_SUCCEEDED = "BackupSucceeded"  # BackupReady
    BACKUP_FAILED = "BackupFailed"
    BACKUP_STALE = "BackupStale"
    BACKUP_DISABLED = "BackupDisabled"
    NO_BACKUP_YET = "NoBackupYet"
    INVALID_SCHEDULE = "InvalidSchedule"
    RESTORING = "Restoring"  # Restored
    RESTORE_SUCCEEDED = "RestoreSucceeded"
    RESTORE_FAILED = "RestoreFailed"
    WAITING_FOR_BACKUP = "WaitingForBackup"  # Reindexed (the two pre-reindex ones Reconciled too)
    PRE_REINDEX_BACKUP_FAILED = "PreReindexBackupFailed"
    WAITING_FOR_RESTORE = "WaitingForRestore"
    REINDEXING = "Reindexing"  # the re-index Job builds and evaluates a candidate generation
    SWITCHED = "Switched"  # the candidate passed the gate and serves
    REVERTED = "Reverted"  # a retained generation of these settings serves again
    ALREADY_SERVING = "AlreadyServing"  # the Job found these settings serving
    GATED = "Gated"  # the candidate failed the gate: the serving generation stays
    REINDEXED = "Reindexed"  # an older operator's ungated re-index succeeded
    REINDEX_FAILED = "ReindexFailed"
    SETTINGS_REVERTED = "SettingsReverted"  # the spec is back to the served settings: no Job
    SYNC_SUCCEEDED = "SyncSucceeded"  # KnowledgeSynced
    SYNC_SKIPPED_ITEMS = "SyncSkippedItems"  # synced, but some keys or media types were not
    SOURCE_SYNC_FAILED = "SourceSyncFailed"
    SYNCING = "Syncing"
    NO_KNOWLEDGE_SOURCES = "NoKnowledgeSources"
    MONITORING_APPLIED = "MonitoringApplied"  # MonitoringReady
    PROMETHEUS_OPERATOR_MISSING = "PrometheusOperatorMissing"
    WITHIN_BUDGET = "WithinBudget"  # BudgetExceeded
    MONTHLY_BUDGET_SPENT = "MonthlyBudgetSpent"
    WAITING_FOR_USAGE_REPORT = "WaitingForUsageReport"


# Types whose True is the bad state, so their Events warn on True rather than False.
TRUE_IS_BAD = frozenset({Type.BUDGET_EXCEEDED})
READY_INPUTS = (Type.DEPLOYMENT_AVAILABLE, Type.SECRETS_READY, Type.DATABASE_READY)
# A failing container is the one thing to fix, so Ready names it rather than "waiting".
POD_FAILURES = (
    Reason.CONTAINER_CRASH_LOOPING,
    Reason.IMAGE_PULL_FAILED,
    Reason.CONTAINER_CONFIG_ERROR,
)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_condition(kind: Type, status: bool | str, reason: str, message: str = "") -> Condition:
    """A condition without times; ``merge_conditions`` adds them."""
    text = status if isinstance(status, str) else ("True" if status else "False")
    return {"type": kind, "status": text, "reason": reason, "message": message}


def find(body: Mapping[str, Any], kind: str) -> Condition | None:
    """The condition of type ``kind`` in a RagAgent's ``status``; None when there is none."""
    for cond in (body.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def without_times(cond: Condition) -> Condition:
    """Only type, status, reason and message ("" when absent), as ``build_condition`` has them."""
    return {key: cond.get(key, "") for key in ("type", "status", "reason", "message")}


def build_ready(conditions: dict[str, Condition], warnings: Sequence[str] = ()) -> Condition:
    """Ready is True when the Deployment is available and its secrets and database are ready.

    ``warnings`` (risks that do not stop the agent serving, such as unencrypted backups in
    production) end a True Ready's message; its status and reason stay, so ``kubectl wait``
    and alerts on Ready are unaffected. When an input is False because a container fails,
    Ready takes that input's reason and message (the pod, the container and its last error)."""
    waiting = [kind for kind in READY_INPUTS if conditions.get(kind, {}).get("status") != "True"]
    if not waiting:
        message = "; ".join(["the agent serves traffic", *warnings])
        return build_condition(Type.READY, True, Reason.AGENT_READY, message)
    for kind in waiting:
        cond = conditions.get(kind) or {}
        if cond.get("reason") in POD_FAILURES:
            return build_condition(Type.READY, False, cond["reason"], cond.get("message", ""))
    return build_condition(Type.READY, False, Reason.WAITING, "waiting for " + ", ".join(waiting))


def merge_conditions(
    old: list[Condition], new: list[Condition], *, generation: int, now: str
) -> list[Condition]:
    """Stamp generation and times; keep lastTransitionTime while a status does not change."""
    previous = {item.get("type"): item for item in old}
    merged = []
    for item in new:
        before = previous.get(item["type"])
        changed = before is None or before.get("status") != item["status"]
        stamp = now if changed else before.get("lastTransitionTime", now)  # type: ignore[union-attr]
        merged.append({**item, "lastTransitionTime": stamp, "observedGeneration": generation})
    return merged


def transitions(old: list[Condition], new: list[Condition]) -> list[Condition]:
    """Conditions whose status differs from before (for Events)."""
    previous = {item.get("type"): item.get("status") for item in old}
    return [item for item in new if previous.get(item["type"]) != item["status"]]
