"""The RagAgent API as typed pydantic models: the single source of truth.

The CRD's OpenAPI schema (``crd.py``) is generated from these classes, so a
field, its description, its default and its CEL rules are written once.  The
reconciler parses ``spec`` with the same classes, so render code works on typed
values with defaults already applied (the API server applies the CRD defaults
too, but a parent object that is absent gets no nested defaults there).

Conventions read by the generator:

* every field carries ``description`` (the generator refuses fields without);
* ``FreeForm`` marks Kubernetes types we pass through untouched (resources,
  affinity, ...), rendered as ``x-kubernetes-preserve-unknown-fields``;
* ``__cel__`` on a class lists ``(rule, message)`` pairs for that object, and
  ``json_schema_extra`` on a field adds schema keys such as ``maxItems`` or
  field-level ``x-kubernetes-validations``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ragagent.core import config as agent_config


class FreeFormMarker:
    """Annotation marker: an object the schema does not describe field by field."""


FreeForm = Annotated[dict[str, Any], FreeFormMarker()]
Cel = list[tuple[str, str]]

# Space-separated: CEL string literals have no \s escape, and cron fields never hold tabs.
CRON_RE = r"^ *[0-9A-Za-z*/,?-]+( +[0-9A-Za-z*/,?-]+){4} *$"
# A single directory name on the backup volume: no slash, so never a path outside it.
BACKUP_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# An IPv4 CIDR, or an IPv6 one checked loosely (the API server checks the NetworkPolicy again).
# [.] because CEL string literals have no \. escape.
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
CIDR_RE = (
    f"^({_OCTET}[.]){{3}}{_OCTET}/([0-9]|[12][0-9]|3[0-2])$"
    "|^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$"
)
# The agent's local embedder runs one model, which it accepts under either of its names.
LOCAL_MODEL_NAMES = agent_config.LOCAL_EMBEDDING_MODEL_NAMES
LOCAL_MODEL_DIMENSION = agent_config.LOCAL_EMBEDDING_DIMENSION


class ApiModel(BaseModel):
    """Base: camelCase wire names, unknown fields rejected, immutable values."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )
    __cel__: ClassVar[Cel] = []


class SecretKeyRef(ApiModel):
    name: str = Field(description="Name of a Secret in the RagAgent's namespace.", max_length=253)
    key: str = Field(description="Key inside that Secret's data.", max_length=253)


class SealedValue(ApiModel):
    encrypted_value: str = Field(
        description=(
            "kubeseal output in strict scope for the Secret named '<ragagent>-llm' in this "
            "namespace, key 'api-key'. Passed through to a SealedSecret untouched."
        ),
        max_length=16384,
    )


class ApiKey(ApiModel):
    __cel__ = [
        (
            "has(self.secretRef) != has(self.sealed)",
            "model.apiKey needs exactly one of secretRef or sealed",
        )
    ]
    secret_ref: SecretKeyRef | None = Field(None, description="An existing Secret holding the key.")
    sealed: SealedValue | None = Field(None, description="A value sealed with kubeseal.")


class Model(ApiModel):
    __cel__ = [
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


class ExternalDatabase(ApiModel):
    secret_ref: SecretKeyRef = Field(
        description="Secret key holding a postgresql:// URL of a PostgreSQL with pgvector."
    )


class ManagedDatabase(ApiModel):
    storage: str = Field("10Gi", description="Size of the data volume.", max_length=63)
    storage_class_name: str | None = Field(
        None, description="StorageClass of the data volume; unset uses the cluster default."
    )
    image: str = Field(
        "pgvector/pgvector:pg18", description="PostgreSQL image with pgvector.", max_length=512
    )


class Database(ApiModel):
    __cel__ = [
        (
            "has(self.external) != has(self.managed)",
            "database needs exactly one of external or managed",
        )
    ]
    external: ExternalDatabase | None = Field(None, description="Use an existing PostgreSQL.")
    managed: ManagedDatabase | None = Field(
        None, description="Run a single PostgreSQL + pgvector StatefulSet for this agent."
    )


class ConfigMapRef(ApiModel):
    name: str = Field(description="ConfigMap name in the RagAgent's namespace.", max_length=253)


class KnowledgeSource(ApiModel):
    __cel__ = [
        (
            "has(self.configMap) != has(self.url)",
            "each knowledge source needs exactly one of configMap or url",
        ),
        ("!has(self.url) || self.url.startsWith('https://')", "knowledge URLs must use https://"),
    ]
    config_map: ConfigMapRef | None = Field(
        None, description="Every key of this ConfigMap is ingested as one document."
    )
    url: str | None = Field(None, description="An https URL fetched and ingested.", max_length=2048)


class Chunking(ApiModel):
    __cel__ = [("self.overlap < self.size", "knowledge.chunking.overlap must be below size")]
    size: int = Field(800, description="Target chunk size in characters.", ge=100, le=20000)
    overlap: int = Field(120, description="Overlap between chunks in characters.", ge=0, le=10000)


class Knowledge(ApiModel):
    sources: list[KnowledgeSource] = Field(
        default_factory=list,
        description="Documents ingested by a Job whenever their content changes.",
        json_schema_extra={"maxItems": 64},
    )
    chunking: Chunking = Field(default_factory=Chunking, description="How documents are split.")


class Jwt(ApiModel):
    issuer: str = Field(description="Required iss claim.", max_length=2048)
    audience: str = Field(description="Required aud claim.", max_length=2048)
    jwks_url: str | None = Field(
        None,
        alias="jwksURL",
        description="JWKS URL for RS256/ES256 tokens. NetworkPolicy egress opens its port "
        "for the agent (see networkPolicy.endpoints).",
        max_length=2048,
    )


class Auth(ApiModel):
    # An unauthenticated agent answers (and spends LLM tokens for) anyone who reaches it, so
    # it is never the result of a typo or a copied sample: it takes a second, loud field.
    __cel__ = [
        ("self.mode != 'jwt' || has(self.jwt)", "auth.mode jwt needs auth.jwt"),
        (
            "self.mode != 'none' || (has(self.allowUnauthenticated) && self.allowUnauthenticated)",
            "auth.mode none serves the API to anyone who can reach it: "
            "set auth.allowUnauthenticated: true to confirm",
        ),
    ]
    mode: Literal["apiKey", "jwt", "none"] = Field(
        "apiKey",
        description="apiKey: keys made with 'ragagent apikey'; jwt: bearer tokens; none: "
        "anonymous (demos only; needs allowUnauthenticated).",
    )
    jwt: Jwt | None = Field(None, description="Token checks for mode jwt.")
    allow_unauthenticated: bool = Field(
        False,
        description="DANGER: confirms mode none. The agent then runs in development mode "
        "and serves anyone who can reach it; the NetworkPolicy is the only gate.",
    )


class RateLimit(ApiModel):
    requests_per_minute: int = Field(60, description="Requests per identity per minute.", ge=1)
    burst: int = Field(20, description="Extra requests allowed in a burst.", ge=0)
    tokens_per_day: int = Field(200000, description="LLM tokens per identity per day.", ge=0)


class Cors(ApiModel):
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Exact origins allowed to call the API from a browser; no wildcards.",
        json_schema_extra={
            "maxItems": 64,
            "items": {"maxLength": 512},
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(o, !o.contains('*'))",
                    "message": "cors.allowedOrigins must not contain wildcards",
                }
            ],
        },
    )


class Autoscaling(ApiModel):
    __cel__ = [
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
    behavior: FreeForm | None = Field(
        None, description="autoscaling/v2 HorizontalPodAutoscalerBehavior, passed through."
    )


class PeerSelector(ApiModel):
    namespace_selector: FreeForm | None = Field(None, description="A LabelSelector of namespaces.")
    pod_selector: FreeForm | None = Field(None, description="A LabelSelector of pods.")


class IpBlock(ApiModel):
    cidr: str = Field(
        description="Addresses allowed, e.g. 203.0.113.0/24 or 2001:db8::/64.",
        max_length=64,
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": f"self.matches('{CIDR_RE}')", "message": "ipBlock.cidr must be a CIDR"}
            ]
        },
    )
    except_: list[str] = Field(
        default_factory=list,
        alias="except",
        description="CIDRs inside cidr that stay denied.",
        json_schema_extra={
            "maxItems": 16,
            "items": {"maxLength": 64},
            "x-kubernetes-validations": [
                {
                    "rule": f"self.all(c, c.matches('{CIDR_RE}'))",
                    "message": "ipBlock.except must list CIDRs",
                }
            ],
        },
    )


class EgressPeer(PeerSelector):
    __cel__ = [
        (
            "has(self.ipBlock) != (has(self.namespaceSelector) || has(self.podSelector))",
            "a networkPolicy.endpoints peer takes an ipBlock or pod/namespace selectors, "
            "not both and not neither",
        )
    ]
    ip_block: IpBlock | None = Field(
        None,
        description="Addresses outside the cluster. Not a Service's ClusterIP: traffic to it "
        "reaches the policy already translated to a pod address.",
    )


class EndpointEgress(ApiModel):
    to: list[EgressPeer] = Field(
        default_factory=list,
        description="NetworkPolicyPeers the endpoint's port is opened to, instead of the "
        "default; e.g. the Service's pods by namespaceSelector and podSelector, or an ipBlock.",
        json_schema_extra={"maxItems": 16},
    )
    port: int | None = Field(
        None,
        description="The port opened instead of the URL's: the pods' port (targetPort) when "
        "the URL names a Service whose port differs.",
        ge=1,
        le=65535,
    )


class Endpoints(ApiModel):
    model: EndpointEgress | None = Field(
        None,
        description="model.baseURL (default https://api.openai.com): for the agent, and for "
        "the ingest and re-index Jobs with embeddingProvider openai.",
    )
    tracing: EndpointEgress | None = Field(
        None, description="observability.tracing.otlpEndpoint: for the agent."
    )
    jwks: EndpointEgress | None = Field(None, description="auth.jwt.jwksURL: for the agent.")


class NetworkPolicySettings(ApiModel):
    enabled: bool = Field(
        True,
        description="Create a default deny for every pod of this RagAgent, and for each "
        "component (agent, ingest, reindex, backup, restore, database) a policy opening "
        "only what it uses: DNS, the database, and the endpoints below.",
    )
    ingress_from: list[PeerSelector] = Field(
        default_factory=list,
        description="Who may reach the app port; empty means pods of this namespace only.",
        json_schema_extra={"maxItems": 32},
    )
    extra_egress: list[FreeForm] = Field(
        default_factory=list,
        description="Extra NetworkPolicyEgressRule objects for the agent's pods, passed through.",
        json_schema_extra={"maxItems": 32},
    )
    endpoints: Endpoints | None = Field(
        None,
        description="Where egress to the HTTP endpoints goes. A NetworkPolicy cannot match "
        "host names, so by default each URL's port (the scheme's when absent) is opened: to "
        "the Service's namespace when the host is an in-cluster Service name (<svc>, in this "
        "namespace, or <svc>.<ns>.svc[.<cluster domain>]), otherwise to every address. "
        "Set 'to' to name the peers, and 'port' for a Service whose targetPort differs.",
    )


class BackupStorage(ApiModel):
    __cel__ = [
        (
            "!(has(self.existingClaim) && has(self.storageClassName))",
            "backup.storage takes existingClaim or storageClassName, not both",
        )
    ]
    size: str = Field("20Gi", description="Size of the backup volume.", max_length=63)
    storage_class_name: str | None = Field(None, description="StorageClass of the backup volume.")
    existing_claim: str | None = Field(
        None, description="Use this PersistentVolumeClaim instead of creating one."
    )


class Backup(ApiModel):
    enabled: bool = Field(False, description="Run 'ragagent backup' on a schedule.")
    schedule: str = Field(
        "0 3 * * *",
        description="5-field cron schedule (minute hour day month weekday).",
        max_length=128,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.matches('{CRON_RE}')",
                    "message": "backup.schedule must be a 5-field cron expression like '0 3 * * *'",
                }
            ]
        },
    )
    retention: int = Field(7, description="Backups kept (the newest N).", ge=1, le=1000)
    storage: BackupStorage = Field(
        default_factory=BackupStorage, description="Where the backups are written."
    )


class Restore(ApiModel):
    from_: str = Field(
        alias="from",
        description=(
            "Backup to restore: the name of a backup directory on the backup volume, e.g. "
            "20250310T020000.123Z-1a2b3c4d (the last part of 'backup' in a backup Job's report). "
            "The agent is scaled to 0 while the restore Job runs, and comes back when it succeeds."
        ),
        min_length=1,
        max_length=253,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.matches('{BACKUP_NAME_RE}')",
                    "message": "restore.from must be the name of a backup directory, not a path",
                }
            ]
        },
    )
    force: bool = Field(
        False,
        description=(
            "Replace the contents of a database that already holds tables. Without it the "
            "restore refuses a non-empty database and fails (the agent stays stopped)."
        ),
    )
    request_id: str | None = Field(
        None,
        description=(
            "Free text; change it to run the same restore again. Each distinct "
            "(from, force, requestId) runs exactly once."
        ),
        max_length=63,
    )


class Tracing(ApiModel):
    otlp_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP endpoint for traces, e.g. http://otel.monitoring.svc:4318. "
        "NetworkPolicy egress opens its port for the agent (see networkPolicy.endpoints).",
        max_length=2048,
    )


class Observability(ApiModel):
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


class SecretsSettings(ApiModel):
    provider: Literal["sealedSecrets", "kubernetes"] | None = Field(
        None,
        description=(
            "sealedSecrets: generated values are sealed for the sealed-secrets controller; "
            "kubernetes: plain Secrets (explicit opt-in). Unset uses the operator default."
        ),
    )


class RagAgentSpec(ApiModel):
    """The desired state of one RagAgent."""

    __cel__ = [
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
    resources: FreeForm | None = Field(None, description="Container ResourceRequirements.")
    node_selector: dict[str, str] | None = Field(None, description="Pod nodeSelector.")
    affinity: FreeForm | None = Field(None, description="Pod affinity, passed through.")
    tolerations: list[FreeForm] | None = Field(None, description="Pod tolerations.")
    topology_spread_constraints: list[FreeForm] | None = Field(
        None, description="Pod topologySpreadConstraints."
    )
    model: Model = Field(default_factory=Model, description="Chat and embedding models.")
    database: Database = Field(description="PostgreSQL with pgvector: external or managed.")
    knowledge: Knowledge = Field(default_factory=Knowledge, description="Documents to ingest.")
    auth: Auth = Field(default_factory=Auth, description="How API callers authenticate.")
    rate_limit: RateLimit = Field(default_factory=RateLimit, description="Per-identity limits.")
    cors: Cors = Field(default_factory=Cors, description="Browser cross-origin access.")
    autoscaling: Autoscaling = Field(
        default_factory=Autoscaling, description="HorizontalPodAutoscaler settings."
    )
    network_policy: NetworkPolicySettings = Field(
        default_factory=NetworkPolicySettings, description="Pod network isolation."
    )
    backup: Backup = Field(default_factory=Backup, description="Scheduled database backups.")
    restore: Restore | None = Field(
        None,
        description=(
            "Restore a backup from the backup volume, once per distinct request; progress in "
            "the Restored condition and status.lastRestore."
        ),
    )
    observability: Observability = Field(
        default_factory=Observability, description="Metrics, alerts, tracing and logs."
    )
    secrets: SecretsSettings = Field(
        default_factory=SecretsSettings, description="How generated secrets are stored."
    )
