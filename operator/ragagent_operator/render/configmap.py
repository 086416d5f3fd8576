"""The agent's non-secret settings as env variables (names from ragagent.core.config)."""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator.render.common import Agent, Manifest, metadata, name_of

SHUTDOWN_GRACE_SECONDS = 20


def config_map_name(agent: Agent) -> str:
    return name_of(agent, "config")


def build_settings(agent: Agent) -> dict[str, str]:
    """Env variables for every agent container; secrets are added separately by reference."""
    spec = agent.spec
    env = {
        "ENVIRONMENT": "production",
        "RAGAGENT_LOG_FORMAT": "json",
        "RAGAGENT_LOG_LEVEL": spec.observability.log_level,
        "RAGAGENT_METRICS_PORT": str(c.METRICS_PORT),
        "RAGAGENT_DATA_DIR": "/tmp/ragagent",  # noqa: S108 (a private emptyDir)
        "RAGAGENT_INGEST_SAMPLES_ON_START": "false",
        "RAGAGENT_SHUTDOWN_GRACE_SECONDS": str(SHUTDOWN_GRACE_SECONDS),
        **_model_settings(agent),
        **_auth_settings(agent),
        "RAGAGENT_CHUNK_SIZE": str(spec.knowledge.chunking.size),
        "RAGAGENT_CHUNK_OVERLAP": str(spec.knowledge.chunking.overlap),
        "RAGAGENT_RATE_LIMIT_REQUESTS_PER_MINUTE": str(spec.rate_limit.requests_per_minute),
        "RAGAGENT_RATE_LIMIT_BURST": str(spec.rate_limit.burst),
        "RAGAGENT_RATE_LIMIT_TOKENS_PER_DAY": str(spec.rate_limit.tokens_per_day),
        "RAGAGENT_CORS_ALLOWED_ORIGINS": ",".join(spec.cors.allowed_origins),
    }
    if spec.observability.tracing.otlp_endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = spec.observability.tracing.otlp_endpoint
    return env


def _model_settings(agent: Agent) -> dict[str, str]:
    model = agent.spec.model
    env = {
        "RAGAGENT_LLM_PROVIDER": model.provider,
        "RAGAGENT_CHAT_MODEL": model.chat_model,
        "RAGAGENT_EMBEDDING_PROVIDER": model.embedding_provider,
        "RAGAGENT_EMBEDDING_MODEL": model.embedding_model,
        "RAGAGENT_EMBEDDING_DIMENSION": str(model.embedding_dimension),
    }
    if model.base_url:
        env["OPENAI_BASE_URL"] = model.base_url
    return env


def _auth_settings(agent: Agent) -> dict[str, str]:
    """auth.mode none is for demos: the agent refuses anonymous use in production mode.

    Without the acknowledgement the agent keeps API keys. The CRD refuses that combination,
    but a RagAgent stored before the rule existed is not validated again until it changes.
    """
    auth = agent.spec.auth
    if auth.mode == "none" and auth.allow_unauthenticated:
        return {"ENVIRONMENT": "development", "RAGAGENT_AUTH_DISABLED": "true"}
    if auth.mode == "jwt" and auth.jwt is not None:
        env = {"RAGAGENT_JWT_ISSUER": auth.jwt.issuer, "RAGAGENT_JWT_AUDIENCE": auth.jwt.audience}
        if auth.jwt.jwks_url:
            env["RAGAGENT_JWT_JWKS_URL"] = auth.jwt.jwks_url
        return env
    return {}


def build_config_map(agent: Agent) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(agent, config_map_name(agent), c.COMPONENT_AGENT),
        "data": dict(sorted(build_settings(agent).items())),
    }
