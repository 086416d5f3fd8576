"""Secrets of a RagAgent: which Secret keys the pods read, and the objects that provide them.

With the sealedSecrets provider the operator writes SealedSecrets and the
sealed-secrets controller turns them into Secrets of the same name; with the
kubernetes provider (explicit opt-in) it writes those Secrets itself.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ragagent.core import settings_env
from ragagent_operator import constants as c
from ragagent_operator.render import common, postgres_tls


@dataclass(frozen=True)
class SecretRef:
    """One agent setting a pod reads from a Secret: its Settings field and where it lives."""

    field: str
    secret: str
    key: str
    optional: bool = False
    # Appended to a URL the Secret holds without its TLS parameters (the managed database's,
    # which existing Secrets, sealed ones included, keep from before it had TLS).
    url_query: str = ""

    @property
    def env(self) -> str:
        """The variable the agent reads for ``field`` (KeyError for an unknown field)."""
        return settings_env.env_name(self.field)

    def build_env_var(self) -> dict[str, Any]:
        """The container ``env`` item: the value by reference, never inline."""
        item = common.secret_env(self.env, self.secret, self.key)
        if self.optional:  # the pod starts without the key (kubelet leaves the variable out)
            item["valueFrom"]["secretKeyRef"]["optional"] = True
        return item

    def build_env_vars(self) -> list[dict[str, Any]]:
        """The ``env`` items; with ``url_query``, the Secret's URL in a variable of its own and
        the setting made from it by the kubelet's ``$(VAR)`` expansion (still no value inline)."""
        if not self.url_query:
            return [self.build_env_var()]
        base = common.secret_env(URL_BASE_ENV, self.secret, self.key)
        return [base, {"name": self.env, "value": f"$({URL_BASE_ENV})?{self.url_query}"}]


# Not an agent setting: the managed database URL as its Secret holds it, before its TLS query.
URL_BASE_ENV = "MANAGED_DATABASE_URL_BASE"


def build_env(refs: list[SecretRef]) -> list[dict[str, Any]]:
    """The container ``env`` of ``refs``, in order."""
    return [item for ref in refs for item in ref.build_env_vars()]


def needs_database_ca(refs: list[SecretRef]) -> bool:
    """True when a pod reading ``refs`` must mount the managed database's CA."""
    return any(ref.url_query for ref in refs)


def generated_secret_name(agent: common.Agent) -> str:
    return common.name_of(agent, "generated")


def llm_secret_name(agent: common.Agent) -> str:
    return common.name_of(agent, "llm")


def generated_keys(agent: common.Agent) -> list[str]:
    """Keys the operator generates once for this agent."""
    keys = [c.KEY_SECRET_KEY]
    if agent.managed_db:
        keys += [c.KEY_DB_PASSWORD, c.KEY_DATABASE_URL, c.KEY_DB_SUPERUSER_PASSWORD]
    return keys


def secret_refs(agent: common.Agent) -> list[SecretRef]:
    """Every Secret value the agent's server reads (their data feeds the pod-template hash).

    The server hashes API keys and verifies tokens, so it alone gets the API-key pepper
    (the generated secret-key) and the HS256 key, if auth.jwt names one.
    """
    generated = generated_secret_name(agent)
    signing = SecretRef("secret_key", generated, c.KEY_SECRET_KEY)
    # Present only while secret-key is rotated (docs/runbooks/rotating-secrets.md).
    previous = SecretRef("secret_key_previous", generated, c.KEY_SECRET_KEY_PREVIOUS, True)
    return [
        signing,
        previous,
        *jwt_refs(agent),
        database_ref(agent),
        *_api_key_refs(agent),
        *_fallback_key_refs(agent),
    ]


def _fallback_key_refs(agent: common.Agent) -> list[SecretRef]:
    """The fallback providers' keys; each comes from a Secret the RagAgent names."""
    refs = []
    for index, fallback in enumerate(agent.spec.model.fallbacks, start=1):
        if fallback.api_key is not None:
            ref = fallback.api_key.secret_ref
            refs.append(SecretRef(f"llm_fallback_{index}_api_key", ref.name, ref.key))
    return refs


def jwt_refs(agent: common.Agent) -> list[SecretRef]:
    """The HS256 verification key of auth mode jwt; none with a JWKS or another mode."""
    jwt = agent.spec.auth.jwt
    if agent.spec.auth.mode != "jwt" or jwt is None or jwt.hs256_secret_ref is None:
        return []
    return [SecretRef("jwt_hs256_secret", jwt.hs256_secret_ref.name, jwt.hs256_secret_ref.key)]


def data_command_refs(agent: common.Agent) -> list[SecretRef]:
    """What ``ragagent ingest`` and ``reindex`` read: the database, and the API key only
    when the embeddings come from the OpenAI-compatible endpoint. They sign nothing."""
    refs = [database_ref(agent)]
    if agent.spec.model.embedding_provider == "openai":
        refs += _api_key_refs(agent)
    return refs


def database_ref(agent: common.Agent) -> SecretRef:
    """The database URL: all ``ragagent backup`` and ``restore`` read from a Secret."""
    external = agent.spec.database.external
    if external is not None:
        return SecretRef("database_url", external.secret_ref.name, external.secret_ref.key)
    query = postgres_tls.build_client_url_params()
    return SecretRef(
        "database_url", generated_secret_name(agent), c.KEY_DATABASE_URL, url_query=query
    )


def _api_key_refs(agent: common.Agent) -> list[SecretRef]:
    api_key = agent.spec.model.api_key
    if api_key and api_key.secret_ref:
        return [SecretRef("openai_api_key", api_key.secret_ref.name, api_key.secret_ref.key)]
    if api_key and api_key.sealed:
        return [SecretRef("openai_api_key", llm_secret_name(agent), c.KEY_LLM_API_KEY)]
    return []


def build_sealed_secret(
    agent: common.Agent, name: str, encrypted: dict[str, str]
) -> common.Manifest:
    """A strict-scope SealedSecret; ``encrypted`` maps keys to base64 ciphertexts."""
    meta = common.metadata(agent, name, c.COMPONENT_AGENT)
    labels = {**meta["labels"], c.LABEL_USE: c.LABEL_USE_VALUE}  # the agent's pods read it
    template_meta = {"name": name, "namespace": agent.namespace, "labels": labels}
    spec = {
        "encryptedData": dict(sorted(encrypted.items())),
        "template": {"metadata": template_meta, "type": "Opaque"},
    }
    return common.child("bitnami.com/v1alpha1", "SealedSecret", meta, spec=spec)


def build_plain_secret(agent: common.Agent, name: str, values: dict[str, bytes]) -> common.Manifest:
    """A plain Secret (kubernetes provider only), written as ``data``, not write-only stringData."""
    data = {key: base64.b64encode(value).decode() for key, value in sorted(values.items())}
    meta = common.metadata(agent, name, c.COMPONENT_AGENT)
    meta["labels"][c.LABEL_USE] = c.LABEL_USE_VALUE  # the agent's pods read it
    return common.child("v1", "Secret", meta, type="Opaque", data=data)
