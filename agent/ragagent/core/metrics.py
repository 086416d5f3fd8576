"""Prometheus metrics, all named ``ragagent_*`` and registered in one place.

They live in a dedicated registry served on the separate metrics port, so a
NetworkPolicy can expose them to the monitoring namespace only. Label values
are always bounded sets (route templates, not raw paths; error kinds, not
messages) to keep cardinality flat.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from ragagent import __version__

REGISTRY = CollectorRegistry(auto_describe=True)

# Latency buckets (seconds) sized for a chat service: sub-ms SQL up to slow LLMs.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

BUILD_INFO = Info("ragagent_build", "Build information of the agent.", registry=REGISTRY)
BUILD_INFO.info({"version": __version__})

HTTP_REQUESTS = Counter(
    "ragagent_http_requests_total",
    "HTTP requests by route template, method and status code.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "ragagent_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["route", "method"],
    buckets=_SLOW,
    registry=REGISTRY,
)
CHAT_LATENCY = Histogram(
    "ragagent_chat_duration_seconds",
    "End-to-end chat latency (retrieve + answer), by interface (rest, sse, ws, openai).",
    ["interface"],
    buckets=_SLOW,
    registry=REGISTRY,
)
RETRIEVAL_LATENCY = Histogram(
    "ragagent_retrieval_duration_seconds",
    "Hybrid retrieval latency, excluding query embedding.",
    buckets=_FAST,
    registry=REGISTRY,
)
RETRIEVAL_EMPTY = Counter(
    "ragagent_retrieval_empty_total",
    "Retrievals that returned no chunk.",
    registry=REGISTRY,
)
RETRIEVAL_RETAINED = Counter(
    "ragagent_retrieval_retained_total",
    "Retrievals served from a retained index generation: the process runs a model that "
    "no longer serves (a pod not yet rolled after a model switch).",
    registry=REGISTRY,
)
RETRIEVALS = Counter(
    "ragagent_retrievals_total",
    "Retrievals performed.",
    registry=REGISTRY,
)
EMBEDDING_LATENCY = Histogram(
    "ragagent_embedding_duration_seconds",
    "Embedding call latency by purpose (query, ingest).",
    ["purpose"],
    buckets=_SLOW,
    registry=REGISTRY,
)
LLM_LATENCY = Histogram(
    "ragagent_llm_duration_seconds",
    "LLM call latency by provider and model.",
    ["provider", "model"],
    buckets=_SLOW,
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "ragagent_llm_tokens_total",
    "LLM tokens by model and direction (in, out).",
    ["model", "direction"],
    registry=REGISTRY,
)
LLM_COST = Counter(
    "ragagent_llm_cost_total",
    "What LLM tokens cost by model, at the configured prices per 1k tokens (currency units).",
    ["model"],
    registry=REGISTRY,
)
LLM_ERRORS = Counter(
    "ragagent_llm_errors_total",
    "LLM errors by provider and kind (timeout, rate_limited, server, circuit_open, other).",
    ["provider", "kind"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "ragagent_rate_limited_total",
    "Requests refused by a rate limit or token budget, by scope and kind (requests, tokens).",
    ["scope", "kind"],
    registry=REGISTRY,
)
BUDGET_REFUSED = Counter(
    "ragagent_budget_refused_total",
    "Chat turns refused because an LLM token budget had no room (identity-daily, agent-monthly).",
    ["budget"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "ragagent_auth_failures_total",
    "Authentication or authorization failures by reason.",
    ["reason"],
    registry=REGISTRY,
)
# Fair admission of chat turns (core.admission): low cardinality, no identity label.
CHAT_TURNS = Gauge(
    "ragagent_chat_turns",
    "Chat turns by admission state: running (holding a slot) or waiting in the queue.",
    ["state"],
    registry=REGISTRY,
)
CHAT_ADMISSIONS = Counter(
    "ragagent_chat_admissions_total",
    "Chat turns by admission outcome: admitted, rejected (waited too long, 503) or "
    "draining (refused during shutdown).",
    ["outcome"],
    registry=REGISTRY,
)
WEBSOCKETS_ACTIVE = Gauge(
    "ragagent_websockets_active",
    "Open chat WebSockets.",
    registry=REGISTRY,
)
# The agent-monthly budget, for the 80 % and 100 % alerts: every replica reads the same
# row, so the alerts take max, not sum. No identity label.
BUDGET_MONTH_USED = Gauge(
    "ragagent_budget_month_used_tokens",
    "LLM tokens the whole agent has spent this UTC month (read every minute).",
    registry=REGISTRY,
)
BUDGET_MONTH_LIMIT = Gauge(
    "ragagent_budget_month_limit_tokens",
    "The agent-monthly LLM token budget; 0 means no limit.",
    registry=REGISTRY,
)
API_KEYS_EXPIRING = Gauge(
    "ragagent_api_keys_expiring",
    "Active API keys that expire within 7 days (counted every 5 minutes).",
    registry=REGISTRY,
)
DB_POOL = Gauge(
    "ragagent_db_pool_connections",
    "Database pool connections by state (size, in_use, waiting).",
    ["state"],
    registry=REGISTRY,
)
DOCUMENTS_INGESTED = Counter(
    "ragagent_documents_ingested_total",
    "Documents ingested, by outcome (created, updated, unchanged).",
    ["outcome"],
    registry=REGISTRY,
)
CHUNKS_INGESTED = Counter(
    "ragagent_chunks_ingested_total",
    "Chunks written by ingestion.",
    registry=REGISTRY,
)
AUTH_LOOKUPS = Counter(
    "ragagent_auth_lookups_total",
    "API-key prefix lookups by where they were answered (database, negative_cache).",
    ["source"],
    registry=REGISTRY,
)
READINESS_CHECKS = Counter(
    "ragagent_readiness_checks_total",
    "Readiness database checks run (probes within the cache window share one).",
    registry=REGISTRY,
)
LLM_FALLBACKS = Counter(
    "ragagent_llm_fallbacks_total",
    "Turns moved past a failed LLM provider before any token, by the provider that failed "
    "(primary, fallback_1, fallback_2).",
    ["provider"],
    registry=REGISTRY,
)
DEGRADED_ANSWERS = Counter(
    "ragagent_chat_degraded_answers_total",
    "Answers not fully written by an LLM, by reason: all_providers_failed (the extractive "
    "answerer answered) or mid_stream (the provider failed after streaming began).",
    ["reason"],
    registry=REGISTRY,
)
LLM_PROVIDERS_REACHABLE = Gauge(
    "ragagent_llm_providers_reachable",
    "LLM providers that answered the last background reachability probe.",
    registry=REGISTRY,
)
