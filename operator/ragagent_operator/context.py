"""The state one reconcile carries from step to step.

The inputs come first. Every field after them is something one step learns for the
steps after it (``steps.NEEDS`` orders the readers after the writer); each says which
step sets it. A step that did not run, as in a status-only refresh, leaves its
fields at their defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ragagent_operator import conditions, config, k8s, manifest
from ragagent_operator.render import common, reindex

# The kinds whose pods read the RagAgent's Secrets and ConfigMaps.
POD_MAKERS = frozenset({"Deployment", "StatefulSet", "Job", "CronJob"})
# Under its own name: inside Context, ``conditions`` is the field, not the module.
ConditionType = conditions.Type


@dataclass
class Context:
    """Inputs (api, settings, the RagAgent), conditions, and what the steps learned."""

    api: k8s.Api
    settings: config.OperatorSettings
    agent: common.Agent
    body: manifest.Manifest
    fresh: bool = False  # just created: no child can exist yet, so skip the reads
    conditions: dict[str, conditions.Condition] = field(default_factory=dict)
    # reconcile: the reason each failed step gave, by step name (for Reconciled).
    errors: dict[str, str] = field(default_factory=dict)
    # secrets: the ciphertexts of each SealedSecret the step applied, by its name.
    sealed: dict[str, dict[str, str]] = field(default_factory=dict)
    # secrets: the hash of every referenced Secret's data (rolls the agent's pods).
    secrets_hash: str = ""
    # secrets: the referenced Secrets that do not exist; None when the step did not run.
    missing_secrets: list[str] | None = None
    # secrets: why the external database URL would be refused for its TLS (None: it is not).
    database_tls_problem: str | None = None
    # configmap: the hash of the ConfigMap's data (rolls the agent's pods).
    config_hash: str = ""
    # deployment: the Deployment as the API server holds it after the apply.
    deployment: manifest.Manifest | None = None
    # restore: a restore is running, so the writers (ingest, re-index, backups) hold.
    restoring: bool = False
    # restore: status.lastRestore of the current request.
    last_restore: dict[str, Any] | None = None
    # servedindex: the index settings the serving generation has (status.index.served; None:
    # the spec's), and the re-index Job of the recorded settings with its report, when one
    # was started and its outcome is not yet final.
    served_index: dict[str, Any] | None = None
    rollout_job: manifest.Manifest | None = None
    rollout_report: dict[str, Any] = field(default_factory=dict)
    # reindex: the index settings the last re-index was started for; status.index.
    index_settings_hash: str | None = None
    index_status: dict[str, Any] | None = None
    # reindex: new index settings wait for their backup or a restore, so ingest holds.
    reindex_waiting: bool = False
    # ingest: the content hash of the knowledge sources, and its Job once it exists.
    knowledge_hash: str | None = None
    ingest_job: manifest.Manifest | None = None
    # any step: namesakes the RagAgent does not own, which it refused to write ("Kind ns/name").
    conflicts: list[str] = field(default_factory=list)
    # secrets, ingest: Secrets and ConfigMaps the pods must not read (not ours, or not allowed
    # for RagAgent use); while any is listed, no object that makes pods is written.
    refused: list[str] = field(default_factory=list)

    @property
    def serving_agent(self) -> common.Agent:
        """The agent with the serving generation's index settings: what renders the pods that
        embed queries or write to that generation (the Deployment, the ConfigMap, ingest)."""
        # Built from ``agent`` as it is now: the restore step swaps in an agent held at 0.
        return reindex.build_served_agent(self.agent, self.served_index)

    def note(self, kind: ConditionType, status: bool | str, reason: str, message: str = "") -> None:
        """Record a condition; a False already noted for this type wins over later notes."""
        current = self.conditions.get(kind)
        if current is not None and current["status"] == "False":
            return
        self.conditions[kind] = conditions.build_condition(kind, status, reason, message)

    async def ensure(self, obj: manifest.Manifest) -> k8s.Outcome:
        """Apply unless unchanged; a fresh RagAgent's children are applied without a read.

        An object that makes pods is not written while ``refused`` lists anything: its pods
        would read what they must not. A namesake we do not own raises k8s.ChildConflict;
        a refused Secret is listed in ``refused`` too, since the pods name it.
        """
        if obj["kind"] in POD_MAKERS and self.refused:
            return "unchanged"
        try:
            return await k8s.ensure(self.api, obj, absent=self.fresh)
        except k8s.ChildConflict as exc:
            if obj["kind"] in ("Secret", "SealedSecret"):
                self.refused.append(exc.object)
            raise

    async def get(self, api_version: str, kind: str, name: str) -> manifest.Manifest | None:
        """A child in the RagAgent's namespace; None when absent or the RagAgent is fresh."""
        if self.fresh:
            return None
        return await k8s.get(self.api, api_version, kind, self.agent.namespace, name)

    async def delete(self, obj: manifest.Manifest) -> bool:
        """Delete if present and ours (a namesake is left alone); nothing for a fresh RagAgent."""
        if self.fresh:
            return False
        meta = obj["metadata"]
        return await k8s.delete(
            self.api,
            obj["apiVersion"],
            obj["kind"],
            meta["namespace"],
            meta["name"],
            owner=self.agent.uid,
        )
