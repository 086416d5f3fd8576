"""The state one reconcile carries from step to step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ragagent_operator import k8s
from ragagent_operator.conditions import Condition, build_condition
from ragagent_operator.config import OperatorSettings
from ragagent_operator.render.common import Agent, Manifest


@dataclass
class Context:
    """Inputs (api, settings, the RagAgent) and what steps learned (facts, conditions)."""

    api: k8s.Api
    settings: OperatorSettings
    agent: Agent
    body: Manifest
    fresh: bool = False  # just created: no child can exist yet, so skip the reads
    conditions: dict[str, Condition] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def note(self, kind: str, status: bool | str, reason: str, message: str = "") -> None:
        """Record a condition; a False already noted for this type wins over later notes."""
        current = self.conditions.get(kind)
        if current is not None and current["status"] == "False":
            return
        self.conditions[kind] = build_condition(kind, status, reason, message)

    async def ensure(self, obj: Manifest) -> k8s.Outcome:
        """Apply unless unchanged; a fresh RagAgent's children are applied without a read."""
        return await k8s.ensure(self.api, obj, None, fetched=self.fresh)

    async def get(self, api_version: str, kind: str, name: str) -> Manifest | None:
        """A child in the RagAgent's namespace; None when absent or the RagAgent is fresh."""
        if self.fresh:
            return None
        return await k8s.get(self.api, api_version, kind, self.agent.namespace, name)

    async def delete(self, obj: Manifest) -> bool:
        """Delete if present; nothing to delete for a fresh RagAgent."""
        if self.fresh:
            return False
        meta = obj["metadata"]
        return await k8s.delete(
            self.api, obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"]
        )
