"""The RagAgent API as typed pydantic models: the single source of truth.

The CRD's OpenAPI schema (``crd.py``) is generated from these classes, so a
field, its description, its default and its CEL rules are written once.  The
reconciler parses ``spec`` with the same classes, so render code works on typed
values with defaults already applied (the API server applies the CRD defaults
too, but a parent object that is absent gets no nested defaults there).

The conventions the generator reads are in ``spec_base``; the networkPolicy
section is in ``spec_network``, auth, rate limits and CORS in ``spec_access``, and the
knowledge sources, chunking and index evaluation in ``spec_knowledge``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ragagent.core import config as agent_config
from ragagent.core import llm_settings as agent_llm
from ragagent_operator import (
    spec_access,
    spec_answers,
    spec_backup,
    spec_base,
    spec_budgets,
    spec_knowledge,
    spec_network,
)
from ragagent_operator.spec_backup import BACKUP_NAME_RE as BACKUP_NAME_RE
from ragagent_operator.spec_backup import CRON_RE as CRON_RE
from ragagent_operator.spec_backup import Backup as Backup
from ragagent_operator.spec_backup import BackupStorage as BackupStorage
from ragagent_operator.spec_backup import Restore as Restore
from ragagent_operator.spec_knowledge import Chunking as Chunking
from ragagent_operator.spec_knowledge import ConfigMapRef as ConfigMapRef
from ragagent_operator.spec_knowledge import KnowledgeSource as KnowledgeSource

# The agent's local embedder runs one model, which it accepts under either of its names.
LOCAL_MODEL_NAMES = agent_config.LOCAL_EMBEDDING_MODEL_NAMES
LOCAL_MODEL_DIMENSION = agent_config.LOCAL_EMBEDDING_DIMENSION
# A century: a larger count is a typo, and make_interval(days => n) must stay in range.
MAX_RETENTION_DAYS = 36500


class SecretKeyRef(spec_base.ApiModel):
    name: str = Field(description=spec_base.REFERENCED_NAME_DOC, max_length=253)
    key: str = Field(description="Key inside that Secret's data.", max_length=253)


class SealedValue(spec_base.ApiModel):
    encrypted_value: str = Field(
        description=(
            "kubeseal output in strict scope for the Secret named '<ragagent>-llm' in this "
            "namespace, key 'api-key'. Passed through to a SealedSecret untouched."
        ),
        max_length=16384,
    )


class ApiKey(spec_base.ApiModel):
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "has(self.secretRef) != has(self.sealed)",
            "model.apiKey needs exactly one of secretRef or sealed",
        )
    ]
    secret_ref: SecretKeyRef | None = Field(None, description="An existing Secret holding the key.")
    sealed: SealedValue | None = Field(None, description="A value sealed with kubeseal.")


class FallbackApiKey(spec_base.ApiModel):
    secret_ref: SecretKeyRef = Field(description="An existing Secret holding the key.")


class FallbackModel(spec_base.ApiModel):
    """An OpenAI-compatible endpoint tried when the ones before it fail."""

    __cel__: ClassVar[spec_base.Cel] = [
        (
            "self.baseURL.matches('^https?://[^/:]+(:[0-9]+)?(/.*)?$')",
            "model.fallbacks[].baseURL must be an http(s) URL such as https://llm.example/v1",
        ),
    ]
    base_url: str = Field(
        alias="baseURL",
        description="OpenAI-compatible endpoint. NetworkPolicy egress opens its port, as for "
        "model.baseURL.",
        max_length=2048,
    )
    chat_model: str | None = Field(
        None, description="Chat model name; unset uses model.chatModel.", max_length=253
    )
    api_key: FallbackApiKey | None = Field(None, description="API key of this endpoint.")


class Model(spec_base.ApiModel):
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "!has(self.fallbacks) || size(self.fallbacks) == 0 || self.provider == 'openai'",
            "model.fallbacks need model.provider openai",
        ),
        (
            "self.provider != 'openai' || has(self.apiKey) || has(self.baseURL)",
            "model.provider openai needs model.apiKey (or a keyless model.baseURL)",
        ),
        (
            "self.embeddingProvider != 'openai' || has(self.apiKey) || has(self.baseURL)",
            "model.embeddingProvider openai needs model.apiKey (or a keyless model.baseURL)",
        ),
        (
            "!has(self.baseURL) || self.baseURL.matches('^https?://[^/:]+(:[0-9]+)?(/.*)?$')",
            "model.baseURL must be an http(s) URL such as https://api.openai.com/v1",
        ),
        (
            "self.embeddingProvider != 'local' || (self.embeddingModel in ["
            + ", ".join(f"'{name}'" for name in LOCAL_MODEL_NAMES)
            + f"] && self.embeddingDimension == {LOCAL_MODEL_DIMENSION})",
            f"model.embeddingProvider local runs {LOCAL_MODEL_NAMES[0]} "
            f"({LOCAL_MODEL_DIMENSION} dimensions): set embeddingModel to "
            + " or ".join(LOCAL_MODEL_NAMES)
            + f" and embeddingDimension to {LOCAL_MODEL_DIMENSION}, "
            "or use embeddingProvider openai for another model",
        ),
    ]
    provider: Literal["openai", "extractive"] = Field(
        "extractive",
        description="openai: an OpenAI-compatible chat API; extractive: answers quote sources.",
    )
    base_url: str | None = Field(
        None,
        alias="baseURL",
        description="OpenAI-compatible endpoint. NetworkPolicy egress opens its port (to any "
        "address unless networkPolicy.endpoints says where; see there).",
        max_length=2048,
    )
    chat_model: str = Field("gpt-4o-mini", description="Chat model name.", max_length=253)
    embedding_provider: Literal["local", "openai"] = Field(
        "local", description="local: the bundled MiniLM model; openai: the embeddings API."
    )
    embedding_model: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        description="Embedding model name; the local provider runs all-MiniLM-L6-v2 "
        "(either spelling, 384 dimensions).",
        max_length=253,
    )
    embedding_dimension: int = Field(
        384,
        description="Embedding vector size; at most 2000, the most pgvector's HNSW index takes "
        "(shorten larger models, e.g. text-embedding-3-large with 1536).",
        ge=8,
        le=agent_config.MAX_EMBEDDING_DIMENSION,
    )
    api_key: ApiKey | None = Field(None, description="API key of the LLM endpoint.")
    fallbacks: list[FallbackModel] = Field(
        default_factory=list,
        description="Endpoints tried in order when the primary fails before answering; "
        "when all fail, answers are extractive and marked degraded.",
        json_schema_extra={"maxItems": agent_llm.MAX_FALLBACKS},
    )


class ExternalDatabase(spec_base.ApiModel):
    secret_ref: SecretKeyRef = Field(
        description="Secret key holding a postgresql:// URL of a PostgreSQL with pgvector. "
        "The agent refuses a URL without sslmode=verify-full and sslrootcert unless tlsWaived."
    )
    tls_waived: bool = Field(
        False, description="Accept a URL that does not verify the server's certificate."
    )


class ManagedDatabase(spec_base.ApiModel):
    storage: str = Field("10Gi", description="Size of the data volume.", max_length=63)
    storage_class_name: str | None = Field(
        None, description="StorageClass of the data volume; unset uses the cluster default."
    )
    image: str = Field(
        "pgvector/pgvector:pg18", description="PostgreSQL image with pgvector.", max_length=512
    )


class Database(spec_base.ApiModel):
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "has(self.external) != has(self.managed)",
            "database needs exactly one of external or managed",
        )
    ]
    external: ExternalDatabase | None = Field(None, description="Use an existing PostgreSQL.")
    managed: ManagedDatabase | None = Field(
        None, description="Run a single PostgreSQL + pgvector StatefulSet for this agent."
    )


class Knowledge(spec_base.ApiModel):
    sources: list[KnowledgeSource] = Field(
        default_factory=list,
        description="Documents ingested by a Job whenever their content changes.",
        json_schema_extra={"maxItems": 64},
    )
    chunking: Chunking = Field(default_factory=Chunking, description="How documents are split.")
    evaluation: spec_knowledge.Evaluation = Field(
        default_factory=spec_knowledge.Evaluation,
        description="The gate of an index change (embedding model, dimension or chunking): "
        "the new generation is built beside the serving one and serves only if it passes.",
    )
    refresh_schedule: str | None = Field(
        None,
        description="Cron schedule (in the controller's time zone) of a CronJob that syncs "
        "the sources again, so changed URLs are fetched (an unchanged page answers 304 and "
        "nothing is embedded). Unset: sources sync only when the spec or a ConfigMap changes.",
        max_length=100,
        json_schema_extra=spec_backup.cron_rule("knowledge.refreshSchedule"),
    )


class Autoscaling(spec_base.ApiModel):
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "self.minReplicas <= self.maxReplicas",
            "autoscaling.minReplicas must be <= autoscaling.maxReplicas",
        )
    ]
    enabled: bool = Field(False, description="Create a HorizontalPodAutoscaler.")
    min_replicas: int = Field(2, description="Lowest replica count.", ge=1, le=1000)
    max_replicas: int = Field(10, description="Highest replica count.", ge=1, le=1000)
    target_cpu_utilization_percentage: int = Field(
        70,
        alias="targetCPUUtilizationPercentage",
        description="Average CPU utilization the HPA aims for.",
        ge=1,
        le=100,
    )
    behavior: spec_base.FreeForm | None = Field(
        None, description="autoscaling/v2 HorizontalPodAutoscalerBehavior, passed through."
    )


class ConversationRetention(spec_base.ApiModel):
    days: int | None = Field(
        None,
        description=(
            "Delete conversations (and their messages) idle for longer than this many days; "
            "each server replica purges hourly and writes an audit record. Unset keeps them all."
        ),
        ge=1,
        le=MAX_RETENTION_DAYS,
    )


class Conversations(spec_base.ApiModel):
    retention: ConversationRetention = Field(
        default_factory=ConversationRetention, description="How long conversations are kept."
    )


class Tracing(spec_base.ApiModel):
    otlp_endpoint: str | None = Field(
        None,
        max_length=2048,
        description="OTLP/HTTP endpoint for traces, e.g. http://otel.monitoring.svc:4318. "
        "NetworkPolicy egress opens its port for the agent (see networkPolicy.endpoints).",
    )


class Observability(spec_base.ApiModel):
    service_monitor: bool = Field(
        True, description="Create a ServiceMonitor when the Prometheus Operator CRDs exist."
    )
    prometheus_rule: bool = Field(
        True, description="Create a PrometheusRule when the Prometheus Operator CRDs exist."
    )
    tracing: Tracing = Field(default_factory=Tracing, description="Distributed tracing.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Agent log level."
    )


class SecretsSettings(spec_base.ApiModel):
    provider: Literal["sealedSecrets", "kubernetes"] | None = Field(
        None,
        description=(
            "sealedSecrets: generated values are sealed for the sealed-secrets controller; "
            "kubernetes: plain Secrets (explicit opt-in). Unset uses the operator default."
        ),
    )


class RagAgentSpec(spec_base.ApiModel):
    """The desired state of one RagAgent."""

    __cel__: ClassVar[spec_base.Cel] = [
        (
            "!has(self.secrets) || !has(self.secrets.provider) || "
            "self.secrets.provider != 'kubernetes' || !has(self.model.apiKey) || "
            "!has(self.model.apiKey.sealed)",
            "model.apiKey.sealed needs the sealedSecrets provider; use secretRef with kubernetes",
        ),
        (
            "!has(self.restore) || (has(self.backup) && (self.backup.enabled || "
            "(has(self.backup.storage) && has(self.backup.storage.existingClaim))))",
            "restore needs backup storage: set backup.enabled or backup.storage.existingClaim",
        ),
    ]
    image: str | None = Field(
        None, description="Agent image; unset uses the operator's default.", max_length=512
    )
    replicas: int = Field(
        2, description="Pod count when autoscaling is off (scale subresource).", ge=0, le=1000
    )
    resources: spec_base.FreeForm | None = Field(
        None, description="Container ResourceRequirements."
    )
    node_selector: dict[str, str] | None = Field(None, description="Pod nodeSelector.")
    affinity: spec_base.FreeForm | None = Field(None, description="Pod affinity, passed through.")
    tolerations: list[spec_base.FreeForm] | None = Field(None, description="Pod tolerations.")
    topology_spread_constraints: list[spec_base.FreeForm] | None = Field(
        None, description="Pod topologySpreadConstraints."
    )
    shutdown_grace_seconds: int = Field(
        20,
        description="Seconds a stopping pod lets answers in flight finish (REST, SSE, "
        "WebSocket, OpenAI-compatible) before WebSockets close with 1001; the pod's "
        "terminationGracePeriodSeconds follows it.",
        ge=1,
        le=3600,
    )
    model: Model = Field(default_factory=Model, description="Chat and embedding models.")
    database: Database = Field(description="PostgreSQL with pgvector: external or managed.")
    knowledge: Knowledge = Field(default_factory=Knowledge, description="Documents to ingest.")
    answers: spec_answers.Answers = Field(
        default_factory=spec_answers.Answers, description="When to decline, and follow-ups."
    )
    auth: spec_access.Auth = Field(
        default_factory=spec_access.Auth, description="How API callers authenticate."
    )
    rate_limit: spec_access.RateLimit = Field(
        default_factory=spec_access.RateLimit, description="Per-identity limits."
    )
    budgets: spec_budgets.Budgets = Field(
        default_factory=spec_budgets.Budgets, description="LLM token budgets and model prices."
    )
    cors: spec_access.Cors = Field(
        default_factory=spec_access.Cors, description="Browser cross-origin access."
    )
    autoscaling: Autoscaling = Field(
        default_factory=Autoscaling, description="HorizontalPodAutoscaler settings."
    )
    network: spec_network.Network = Field(
        default_factory=spec_network.Network, description="Accepted Host names, trusted proxies."
    )
    network_policy: spec_network.NetworkPolicySettings = Field(
        default_factory=spec_network.NetworkPolicySettings, description="Pod network isolation."
    )
    backup: Backup = Field(default_factory=Backup, description="Scheduled database backups.")
    restore: Restore | None = Field(
        None,
        description=(
            "Restore a backup from the backup volume, once per distinct request; progress in "
            "the Restored condition and status.lastRestore."
        ),
    )
    conversations: Conversations = Field(
        default_factory=Conversations, description="Chat history kept by the agent."
    )
    observability: Observability = Field(
        default_factory=Observability, description="Metrics, alerts, tracing and logs."
    )
    secrets: SecretsSettings = Field(
        default_factory=SecretsSettings, description="How generated secrets are stored."
    )
