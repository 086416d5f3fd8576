"""The RagAgent status as typed models (the CRD status schema is generated from them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ragagent_operator import spec_base


def unknown(description: str, **field: Any) -> Any:
    """A field the operator fills once it knows the value (a finished Job, a sync, the
    Deployment's address): None until then, so a reader tells "not yet" from a zero."""
    return Field(None, description=description, **field)


def keyed_by(key: str, **extra: Any) -> dict[str, Any]:
    """Schema keys of a list whose items the API server tells apart by ``key``."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key], **extra}


class Condition(spec_base.ApiModel):
    type: str = Field(description="Ready, Reconciled, DeploymentAvailable, SecretsReady, ...")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="One CamelCase word explaining the status.")
    message: str = Field("", description="Human-readable details.")
    last_transition_time: str = Field(description="When the status last changed (RFC 3339).")
    observed_generation: int = Field(0, description="metadata.generation this was computed for.")


class Endpoints(spec_base.ApiModel):
    rest: str = Field(description="In-cluster base URL of the REST API.")
    websocket: str = Field(description="In-cluster URL of the chat WebSocket.")
    openai_base_url: str = Field(
        alias="openaiBaseURL", description="Base URL of the OpenAI-compatible API."
    )


class LastBackup(spec_base.ApiModel):
    time: str = Field(description="Completion time of the newest finished backup Job.")
    result: Literal["Succeeded", "Failed"] = Field(description="Succeeded or Failed.")
    size: int | None = unknown(description="Backup size in bytes, when the Job reported it.")


class LastRestore(spec_base.ApiModel):
    from_: str = Field(alias="from", description="The backup restored (spec.restore.from).")
    request_hash: str = Field(
        description="Hash of the spec.restore request; each distinct request runs once."
    )
    job: str = Field(description="Name of the restore Job.")
    result: Literal["Running", "Succeeded", "Failed"] = Field(
        description="Running, Succeeded or Failed."
    )
    time: str | None = unknown(description="When the restore Job finished (RFC 3339).")


class KnowledgeError(spec_base.ApiModel):
    reason: str = Field(description="One CamelCase word: FetchFailed, EmbeddingFailed, ...")
    message: str = Field("", description="Human-readable details.")


class KnowledgeSource(spec_base.ApiModel):
    source: str = Field(description="configmap/<name>, or the URL, as in spec.knowledge.")
    documents: int = Field(0, description="Documents the source holds in the index.")
    chunks: int = Field(0, description="Their chunks.")
    last_sync_time: str | None = unknown(
        description="When the source was last synced successfully (RFC 3339)."
    )
    last_error: KnowledgeError | None = unknown(
        description="Why the last sync failed (the previous documents are kept), or which "
        "items it skipped; absent when the last sync was complete.",
    )


class Usage(spec_base.ApiModel):
    period: str = Field(description="The UTC month reported, e.g. 2026-12.")
    tokens_in: int = Field(0, description="LLM prompt tokens of every caller this month.")
    tokens_out: int = Field(0, description="LLM completion tokens of every caller this month.")
    cost: float = Field(
        0, description="Their cost at spec.budgets.prices, in the prices' currency units."
    )
    monthly_limit: int = Field(0, description="spec.budgets.agentMonthlyTokens; 0 is none.")
    fraction: float | None = unknown(
        description="Tokens in and out over monthlyLimit; absent without a limit."
    )
    resets_at: str = Field("", description="When the month's budget resets (RFC 3339).")
    reported_at: str | None = unknown(
        description="When the usage Job that reported it finished (RFC 3339)."
    )


class IndexSettings(spec_base.ApiModel):
    embedding_provider: str = Field(description="local or openai.")
    embedding_model: str = Field(description="The embedding model.")
    embedding_dimension: int = Field(description="Its vector size.")
    chunk_size: int = Field(description="Target chunk size in characters.")
    chunk_overlap: int = Field(description="Overlap between chunks in characters.")
    hash: str = Field(description="Their hash, as status.indexSettingsHash and Job names use it.")


class IndexGeneration(spec_base.ApiModel):
    generation: int | None = unknown(description="The generation's id in the database.")
    model: str = Field("", description="Its embedding model.")
    dimension: int = Field(0, description="Its vector size.")
    chunk_size: int | None = unknown(description="Its chunk size in characters.")
    chunk_overlap: int | None = unknown(description="Its chunk overlap in characters.")
    chunks: int = Field(0, description="Its chunk count.")
    ndcg_at10: float | None = unknown(
        alias="ndcgAt10", description="nDCG@10 of the last evaluation."
    )
    recall_at_k: float | None = unknown(description="recall@k of the last evaluation.")
    state: Literal["serving", "gated"] = Field(
        description="serving, or gated: it failed the evaluation and is not served (it is kept "
        "ready: deleting the re-index Job evaluates it again)."
    )


class IndexStatus(spec_base.ApiModel):
    served: IndexSettings = Field(
        description="The index settings the agent's pods, its ConfigMap and the ingest Jobs use: "
        "the spec's once the re-index Job switched to them."
    )
    serving: IndexGeneration | None = unknown(description="The serving generation.")
    candidate: IndexGeneration | None = unknown(
        description="The generation the last re-index evaluated, while it is not served."
    )
    check: Literal["evalset", "selfcheck"] | None = unknown(
        description="The evaluation used: the evaluation set, or the self-check."
    )
    last_action: Literal["noop", "reverted", "switched", "gated"] | None = unknown(
        description="What the last re-index Job did."
    )
    job: str | None = unknown(description="The last re-index Job that reported.")


class RagAgentStatus(spec_base.ApiModel):
    observed_generation: int = Field(0, description="Latest metadata.generation reconciled.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Kubernetes-style conditions.",
        json_schema_extra=keyed_by("type"),
    )
    replicas: int = Field(0, description="Pods of the agent's Deployment (scale subresource).")
    ready_replicas: int = Field(0, description="Ready pods.")
    selector: str = Field("", description="Label selector of the pods (scale subresource).")
    endpoints: Endpoints | None = unknown(description="Where to reach the agent.")
    last_backup: LastBackup | None = unknown(description="The newest finished backup.")
    last_restore: LastRestore | None = unknown(
        description="The latest spec.restore request and its outcome."
    )
    knowledge: list[KnowledgeSource] = Field(
        default_factory=list,
        description="Each knowledge source as its last sync left it.",
        json_schema_extra=keyed_by("source", maxItems=64),
    )
    ingested_hash: str | None = unknown(
        description="Content hash of the knowledge sources last ingested."
    )
    usage: Usage | None = unknown(
        description="The month's LLM token usage and cost, from the usage CronJob; present "
        "while spec.budgets sets agentMonthlyTokens or prices.",
    )
    index_settings_hash: str | None = unknown(
        description="Hash of the embedding model and chunking the index is (being) built with.",
    )
    index: IndexStatus | None = unknown(
        description="The index generations and the settings the agent serves with."
    )
