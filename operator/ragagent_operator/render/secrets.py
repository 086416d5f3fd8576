"""Secrets of a RagAgent: which Secret keys the pods read, and the objects that provide them.

With the sealedSecrets provider the operator writes SealedSecrets and the
sealed-secrets controller turns them into Secrets of the same name; with the
kubernetes provider (explicit opt-in) it writes those Secrets itself.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ragagent_operator import constants as c
from ragagent_operator.render.common import Agent, Manifest, metadata, name_of


@dataclass(frozen=True)
class SecretRef:
    """One value a pod reads from a Secret, exposed as an env variable."""

    env: str
    secret: str
    key: str


def generated_secret_name(agent: Agent) -> str:
    return name_of(agent, "generated")


def llm_secret_name(agent: Agent) -> str:
    return name_of(agent, "llm")


def generated_keys(agent: Agent) -> list[str]:
    """Keys the operator generates once for this agent."""
    keys = [c.KEY_SECRET_KEY]
    if agent.managed_db:
        keys += [c.KEY_DB_PASSWORD, c.KEY_DATABASE_URL]
    return keys


def secret_refs(agent: Agent) -> list[SecretRef]:
    """Every Secret value the agent's pods read (their data feeds the pod-template hash)."""
    generated = generated_secret_name(agent)
    refs = [SecretRef("RAGAGENT_SECRET_KEY", generated, c.KEY_SECRET_KEY), database_ref(agent)]
    api_key = agent.spec.model.api_key
    if api_key and api_key.secret_ref:
        refs.append(SecretRef("OPENAI_API_KEY", api_key.secret_ref.name, api_key.secret_ref.key))
    elif api_key and api_key.sealed:
        refs.append(SecretRef("OPENAI_API_KEY", llm_secret_name(agent), c.KEY_LLM_API_KEY))
    return refs


def database_ref(agent: Agent) -> SecretRef:
    external = agent.spec.database.external
    if external is not None:
        return SecretRef("DATABASE_URL", external.secret_ref.name, external.secret_ref.key)
    return SecretRef("DATABASE_URL", generated_secret_name(agent), c.KEY_DATABASE_URL)


def build_sealed_secret(agent: Agent, name: str, encrypted: dict[str, str]) -> Manifest:
    """A strict-scope SealedSecret; ``encrypted`` maps keys to base64 ciphertexts."""
    meta = metadata(agent, name, c.COMPONENT_AGENT)
    template_meta = {"name": name, "namespace": agent.namespace, "labels": meta["labels"]}
    return {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": meta,
        "spec": {
            "encryptedData": dict(sorted(encrypted.items())),
            "template": {"metadata": template_meta, "type": "Opaque"},
        },
    }


def build_plain_secret(agent: Agent, name: str, values: dict[str, bytes]) -> Manifest:
    """A plain Secret (kubernetes provider only), written as ``data``, not write-only stringData."""
    data = {key: base64.b64encode(value).decode() for key, value in sorted(values.items())}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(agent, name, c.COMPONENT_AGENT),
        "type": "Opaque",
        "data": data,
    }
