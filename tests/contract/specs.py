"""The RagAgent specs the pod contract covers: the samples and a matrix of settings.

The matrix crosses the LLM provider and embeddings, the auth mode, a managed or
external database, sealed or plain secrets, and backups on (with a restore request)
or off. Every spec has knowledge sources (so an ingest Job), CORS and tracing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from ragagent_operator.render.common import Agent, build_agent

SAMPLES = sorted((Path(__file__).parents[2] / "manifests" / "samples").glob("[!k]*.yaml"))
IMAGE = "ragagent:test"
BACKUP_NAME = "20261203T100000.000Z-0a1b2c3d"
SEALED = {"sealed": {"encryptedValue": "AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq"}}
KEY_REF = {"secretRef": {"name": "llm", "key": "k"}}
ModelKind = Literal["extractive", "openai", "openai-embeddings"]
AuthMode = Literal["apiKey", "jwt", "jwt-hs256", "none"]
DatabaseKind = Literal["managed", "external"]
SecretsProvider = Literal["sealedSecrets", "kubernetes"]
MODELS: tuple[ModelKind, ...] = ("extractive", "openai", "openai-embeddings")
AUTH_MODES: tuple[AuthMode, ...] = ("apiKey", "jwt", "jwt-hs256", "none")
# The Secret key an HS256 RagAgent names for its token key (jwt-hs256 cases).
HS256_REF = {"name": "token-signing", "key": "hs256"}
DATABASES: tuple[DatabaseKind, ...] = ("managed", "external")
PROVIDERS: tuple[SecretsProvider, ...] = ("sealedSecrets", "kubernetes")
RETENTION_DAYS = 90


@dataclass(frozen=True)
class Case:
    """One point of the spec matrix."""

    model: ModelKind
    auth: AuthMode
    database: DatabaseKind
    secrets: SecretsProvider
    backups: bool

    def __str__(self) -> str:
        return "-".join([self.model, self.auth, self.database, self.secrets, str(self.backups)])

    def spec(self) -> dict[str, Any]:
        return {
            "model": self._model(),
            "auth": self._auth(),
            "database": self._database(),
            "secrets": {"provider": self.secrets},
            "backup": {"enabled": self.backups},
            **({"restore": {"from": BACKUP_NAME, "force": True}} if self.backups else {}),
            "knowledge": {
                "sources": [{"configMap": {"name": "faq"}}, {"url": "https://example.com/a.md"}]
            },
            "cors": {"allowedOrigins": ["https://app.example.com"]},
            "observability": {"tracing": {"otlpEndpoint": "http://otel.monitoring:4318"}},
            # Half the matrix keeps conversations for a bounded time, half keeps them all.
            **({"conversations": {"retention": {"days": RETENTION_DAYS}}} if self.backups else {}),
        }

    def _model(self) -> dict[str, Any]:
        if self.model == "extractive":
            return {}
        key = SEALED if self.secrets == "sealedSecrets" else KEY_REF
        model: dict[str, Any] = {
            "provider": "openai",
            "baseURL": "https://llm.example.com/v1",
            "apiKey": key,
        }
        if self.model == "openai-embeddings":
            model |= {"embeddingProvider": "openai", "embeddingModel": "text-embedding-3-small"}
            model |= {"embeddingDimension": 1536}
        return model

    def _auth(self) -> dict[str, Any]:
        if self.auth == "jwt":
            jwt = {"issuer": "https://login.example.com/", "audience": "ragagent"}
            return {"mode": "jwt", "jwt": {**jwt, "jwksURL": "https://login.example.com/jwks"}}
        if self.auth == "jwt-hs256":
            jwt = {"issuer": "https://tokens.example.com/", "audience": "ragagent"}
            return {"mode": "jwt", "jwt": {**jwt, "hs256SecretRef": HS256_REF}}
        if self.auth == "none":
            return {"mode": "none", "allowUnauthenticated": True}
        return {"mode": "apiKey"}

    def _database(self) -> dict[str, Any]:
        if self.database == "managed":
            return {"managed": {}}
        return {"external": {"secretRef": {"name": "pg", "key": "url"}}}


MATRIX = [
    Case(*values)
    for values in itertools.product(MODELS, AUTH_MODES, DATABASES, PROVIDERS, (False, True))
]


def agent_of(name: str, spec: dict[str, Any]) -> Agent:
    body = {"metadata": {"name": name, "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image=IMAGE)


def sample_documents() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in SAMPLES]


def sample_agents() -> list[Agent]:
    return [agent_of(doc["metadata"]["name"], doc["spec"]) for doc in sample_documents()]
