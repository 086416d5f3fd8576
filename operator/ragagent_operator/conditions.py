"""Kubernetes-style conditions: building, merging into the status, and their transitions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Condition = dict[str, Any]
READY_INPUTS = ("DeploymentAvailable", "SecretsReady", "DatabaseReady")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_condition(kind: str, status: bool | str, reason: str, message: str = "") -> Condition:
    """A condition without times; ``merge_conditions`` adds them."""
    text = status if isinstance(status, str) else ("True" if status else "False")
    return {"type": kind, "status": text, "reason": reason, "message": message}


def build_ready(conditions: dict[str, Condition]) -> Condition:
    """Ready is True when the Deployment is available and its secrets and database are ready."""
    waiting = [kind for kind in READY_INPUTS if conditions.get(kind, {}).get("status") != "True"]
    if not waiting:
        return build_condition("Ready", True, "AgentReady", "the agent serves traffic")
    return build_condition("Ready", False, "Waiting", "waiting for " + ", ".join(waiting))


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
