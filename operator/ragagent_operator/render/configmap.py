"""The agent's non-secret settings, rendered through the agent's own env contract.

Settings are written as ``{Settings field: value}`` and turned into variables by
``ragagent.core.settings_env``: the names are the agent's own, so a renamed or
misspelt field fails here, at render time, instead of falling back to a default
in a running pod.
"""

from __future__ import annotations

from ragagent.core import settings_env
from ragagent.core.settings_env import EnvValue
from ragagent_operator import constants as c
from ragagent_operator import spec_budgets
from ragagent_operator.render import common, service

# The default of spec.shutdownGraceSeconds.
SHUTDOWN_GRACE_SECONDS = 20


def config_map_name(agent: common.Agent) -> str:
    return common.name_of(agent, "config")


def build_settings(agent: common.Agent) -> dict[str, EnvValue]:
    """Settings fields for every agent container; secrets are added separately by reference."""
    spec = agent.spec
    settings: dict[str, EnvValue] = {
        "environment": "production",
        "log_format": "json",
        "log_level": spec.observability.log_level,
        "metrics_port": c.METRICS_PORT,
        "data_dir": "/tmp/ragagent",  # noqa: S108 (a private emptyDir)
        "ingest_samples_on_start": False,
        "shutdown_grace_seconds": spec.shutdown_grace_seconds,
        **_model_settings(agent),
        **_auth_settings(agent),
        "chunk_size": spec.knowledge.chunking.size,
        "chunk_overlap": spec.knowledge.chunking.overlap,
        "answer_min_similarity": spec.answers.min_similarity,
        "followup_rewrite": spec.answers.rewrite_follow_ups,
        "rate_limit_requests_per_minute": spec.rate_limit.requests_per_minute,
        "rate_limit_burst": spec.rate_limit.burst,
        "rate_limit_tokens_per_day": build_identity_daily_tokens(agent),
        "budget_agent_tokens_per_month": spec.budgets.agent_monthly_tokens,
        "rate_limit_storage": build_rate_limit_storage(agent),
        "cors_allowed_origins": spec.cors.allowed_origins,
        "trusted_hosts": service.build_allowed_hosts(agent),
    }
    if _database_tls_waived(agent):
        settings["database_tls_waived"] = True
    if spec.budgets.prices:
        settings["budget_prices"] = spec_budgets.build_price_list(spec.budgets)
    if spec.conversations.retention.days is not None:
        settings["conversation_retention_days"] = spec.conversations.retention.days
    if spec.network.trusted_proxies:
        settings["forwarded_allow_ips"] = spec.network.trusted_proxies
    if spec.observability.tracing.otlp_endpoint:
        settings["otlp_endpoint"] = spec.observability.tracing.otlp_endpoint
    return settings


def build_identity_daily_tokens(agent: common.Agent) -> int:
    """``budgets.identityDailyTokens``, or ``rateLimit.tokensPerDay`` that set it before."""
    spec = agent.spec
    daily = spec.budgets.identity_daily_tokens
    return spec.rate_limit.tokens_per_day if daily is None else daily


def build_rate_limit_storage(agent: common.Agent) -> str:
    """``rateLimit.storage``, with auto resolved: shared counters once a second pod may run.

    Per-pod counters would let N replicas allow N times the limits, and a roll reset them.
    """
    spec = agent.spec
    if spec.rate_limit.storage != "auto":
        return spec.rate_limit.storage
    scaling = spec.autoscaling
    most = scaling.max_replicas if scaling.enabled else spec.replicas
    return "postgres" if most > 1 else "memory"


def _database_tls_waived(agent: common.Agent) -> bool:
    """The agent refuses a database URL without verify-full unless told otherwise.

    The managed database is verified like any other (render.postgres_tls, postgres_front):
    an external database is waived only by ``tlsWaived``.
    """
    external = agent.spec.database.external
    return external is not None and external.tls_waived


def _model_settings(agent: common.Agent) -> dict[str, EnvValue]:
    model = agent.spec.model
    settings: dict[str, EnvValue] = {
        "llm_provider": model.provider,
        "chat_model": model.chat_model,
        "embedding_provider": model.embedding_provider,
        "embedding_model": model.embedding_model,
        "embedding_dimension": model.embedding_dimension,
    }
    if model.base_url:
        settings["openai_base_url"] = model.base_url
    for index, fallback in enumerate(model.fallbacks, start=1):
        settings[f"llm_fallback_{index}_base_url"] = fallback.base_url
        if fallback.chat_model:
            settings[f"llm_fallback_{index}_model"] = fallback.chat_model
    return settings


def is_production(agent: common.Agent) -> bool:
    """Whether the agent runs in production mode: always, except for auth.mode none with its
    acknowledgement (a demo, see ``_auth_settings``)."""
    return _auth_settings(agent).get("environment", "production") == "production"


def _auth_settings(agent: common.Agent) -> dict[str, EnvValue]:
    """auth.mode none is for demos: the agent refuses anonymous use in production mode.

    Without the acknowledgement the agent keeps API keys. The CRD refuses that combination,
    but a RagAgent stored before the rule existed is not validated again until it changes.
    """
    auth = agent.spec.auth
    if auth.mode == "none" and auth.allow_unauthenticated:
        return {"environment": "development", "auth_disabled": True}
    if auth.mode == "jwt" and auth.jwt is not None:
        settings: dict[str, EnvValue] = {
            "jwt_issuer": auth.jwt.issuer,
            "jwt_audience": auth.jwt.audience,
            "jwt_max_lifetime_seconds": auth.jwt.max_token_lifetime_seconds,
        }
        if auth.jwt.jwks_url:
            settings["jwt_jwks_url"] = auth.jwt.jwks_url
        return settings
    return {}


def build_config_map(agent: common.Agent) -> common.Manifest:
    meta = common.metadata(agent, config_map_name(agent), c.COMPONENT_AGENT)
    data = dict(sorted(settings_env.build_env(build_settings(agent)).items()))
    return common.child("v1", "ConfigMap", meta, data=data)
