"""Inputs shared by every render module: the Agent view, names, labels, metadata, the
object skeleton (``child``) and the stable hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ragagent_operator import constants as c
from ragagent_operator import manifest
from ragagent_operator import spec as spec_models  # Agent has a field named spec

# The object type and its hash belong to ``manifest`` (below render and k8s alike);
# builders, and the callers of builders, name them here.
Manifest = manifest.Manifest
stable_hash = manifest.stable_hash
SecretsProvider = Literal["sealedSecrets", "kubernetes"]


@dataclass(frozen=True)
class Agent:
    """One RagAgent as the renderers see it: identity, typed spec and resolved defaults."""

    name: str
    namespace: str
    uid: str
    spec: spec_models.RagAgentSpec
    image: str
    monitoring_namespace: str = "monitoring"
    secrets_provider: SecretsProvider = "sealedSecrets"
    cluster_domain: str = "cluster.local"

    @property
    def managed_db(self) -> bool:
        return self.spec.database.managed is not None


def build_agent(body: Manifest, *, default_image: str, **defaults: Any) -> Agent:
    """Parse a RagAgent object; ``spec.image`` and ``spec.secrets.provider`` win over defaults."""
    meta = body["metadata"]
    spec = spec_models.RagAgentSpec.model_validate(body.get("spec") or {})
    default_provider = defaults.pop("secrets_provider", "sealedSecrets")
    provider = spec.secrets.provider or default_provider
    return Agent(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta.get("uid", ""),
        spec=spec,
        image=spec.image or default_image,
        secrets_provider=provider,
        **defaults,
    )


def selector_labels(agent: Agent, component: str) -> dict[str, str]:
    """The immutable subset used in selectors."""
    return {
        c.LABEL_NAME: c.APP_NAME,
        c.LABEL_INSTANCE: agent.name,
        c.LABEL_COMPONENT: component,
    }


def labels(agent: Agent, component: str) -> dict[str, str]:
    return {
        **selector_labels(agent, component),
        c.LABEL_PART_OF: c.APP_NAME,
        c.LABEL_MANAGED_BY: c.MANAGED_BY,
    }


def owner_reference(agent: Agent) -> dict[str, Any]:
    """Controller owner reference: deleting the RagAgent garbage-collects the child."""
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.KIND,
        "name": agent.name,
        "uid": agent.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(agent: Agent, name: str, component: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": agent.namespace,
        "labels": labels(agent, component),
        "ownerReferences": [owner_reference(agent)],
    }
    meta.update(extra)
    return meta


def agent_metadata(agent: Agent) -> dict[str, Any]:
    """The metadata of a child named like the agent itself, of the agent component."""
    return metadata(agent, name_of(agent), c.COMPONENT_AGENT)


def child(api_version: str, kind: str, meta: dict[str, Any], **fields: Any) -> Manifest:
    """An object: apiVersion, kind, ``meta``, then ``fields`` (spec, data, ...) in order."""
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **fields}


def match_labels(agent: Agent, component: str) -> dict[str, Any]:
    """A label selector of ``component``'s pods of ``agent``."""
    return {"matchLabels": selector_labels(agent, component)}


def name_of(agent: Agent, suffix: str = "") -> str:
    """Child names: ``<agent>`` or ``<agent>-<suffix>``."""
    return f"{agent.name}-{suffix}" if suffix else agent.name


def restricted_container_security() -> dict[str, Any]:
    """The container securityContext of the 'restricted' Pod Security Standard."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_pod_security(uid: int = 10001) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def build_node_placement(agent: Agent) -> dict[str, Any]:
    """spec.nodeSelector and spec.tolerations, for every pod the RagAgent runs: the agent,
    its database and its Jobs. A node pool reserved by a taint would otherwise keep the
    database and the ingest, backup and restore Jobs off the nodes the agent runs on, or
    leave them unschedulable where only such nodes exist. Absent fields are left out."""
    placement = {
        "nodeSelector": agent.spec.node_selector,
        "tolerations": agent.spec.tolerations,
    }
    return {key: value for key, value in placement.items() if value}


def secret_env(env_name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": env_name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
