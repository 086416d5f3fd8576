"""NetworkPolicies: default deny, then exactly the traffic a RagAgent needs.

Kubernetes NetworkPolicy cannot match host names, so egress to the LLM and
OTLP endpoints is opened by port (taken from their URLs), not by address.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ragagent_operator import constants as c
from ragagent_operator.render.common import Agent, Manifest, metadata, name_of, selector_labels

METADATA_NAME_LABEL = "kubernetes.io/metadata.name"
_DEFAULT_PORTS = {"https": 443, "http": 80}


def url_port(url: str, default: int = 443) -> int:
    """The port of ``url``; the scheme's default when absent."""
    parts = urlsplit(url)
    return parts.port or _DEFAULT_PORTS.get(parts.scheme, default)


def build_network_policies(agent: Agent) -> list[Manifest]:
    """Rendered only when ``spec.networkPolicy.enabled``."""
    policies = [_default_deny(agent), _agent_policy(agent), _jobs_policy(agent)]
    if agent.managed_db:
        policies.append(_database_policy(agent))
    return policies


def _policy(agent: Agent, suffix: str, spec: dict[str, Any]) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(agent, name_of(agent, suffix), c.COMPONENT_AGENT),
        "spec": spec,
    }


def _default_deny(agent: Agent) -> Manifest:
    pods = {"matchLabels": {c.LABEL_INSTANCE: agent.name, c.LABEL_NAME: c.APP_NAME}}
    return _policy(
        agent, "default-deny", {"podSelector": pods, "policyTypes": ["Ingress", "Egress"]}
    )


def _agent_policy(agent: Agent) -> Manifest:
    peers = [peer.model_dump(by_alias=True, exclude_none=True) for peer in _ingress_peers(agent)]
    monitoring = {
        "namespaceSelector": {"matchLabels": {METADATA_NAME_LABEL: agent.monitoring_namespace}}
    }
    spec = {
        "podSelector": {"matchLabels": selector_labels(agent, c.COMPONENT_AGENT)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {"from": peers or [{"podSelector": {}}], "ports": [_tcp(c.APP_PORT)]},
            {"from": [monitoring], "ports": [_tcp(c.METRICS_PORT)]},
        ],
        "egress": _common_egress(agent) + list(agent.spec.network_policy.extra_egress),
    }
    return _policy(agent, "agent", spec)


def _ingress_peers(agent: Agent) -> list[Any]:
    return list(agent.spec.network_policy.ingress_from)


def _jobs_policy(agent: Agent) -> Manifest:
    """Ingest and backup Jobs: DNS, the database, the LLM (embeddings) and https sources."""
    components = [c.COMPONENT_INGEST, c.COMPONENT_BACKUP]
    selector = {
        "matchLabels": {c.LABEL_INSTANCE: agent.name, c.LABEL_NAME: c.APP_NAME},
        "matchExpressions": [{"key": c.LABEL_COMPONENT, "operator": "In", "values": components}],
    }
    egress = [*_common_egress(agent), {"ports": [_tcp(443)]}]
    spec = {"podSelector": selector, "policyTypes": ["Ingress", "Egress"], "egress": egress}
    return _policy(agent, "jobs", spec)


def _database_policy(agent: Agent) -> Manifest:
    clients = {
        "matchLabels": {c.LABEL_INSTANCE: agent.name, c.LABEL_NAME: c.APP_NAME},
        "matchExpressions": [
            {
                "key": c.LABEL_COMPONENT,
                "operator": "In",
                "values": [c.COMPONENT_AGENT, c.COMPONENT_INGEST, c.COMPONENT_BACKUP],
            }
        ],
    }
    spec = {
        "podSelector": {"matchLabels": selector_labels(agent, c.COMPONENT_DATABASE)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"podSelector": clients}], "ports": [_tcp(c.POSTGRES_PORT)]}],
    }
    return _policy(agent, "database", spec)


def _common_egress(agent: Agent) -> list[dict[str, Any]]:
    dns = {
        "to": [{"namespaceSelector": {}}],
        "ports": [{"protocol": "UDP", "port": c.DNS_PORT}, _tcp(c.DNS_PORT)],
    }
    rules: list[dict[str, Any]] = [dns, _database_egress(agent)]
    model = agent.spec.model
    if model.provider == "openai" or model.embedding_provider == "openai":
        rules.append({"ports": [_tcp(url_port(model.base_url or "https://api.openai.com"))]})
    otlp = agent.spec.observability.tracing.otlp_endpoint
    if otlp:
        rules.append({"ports": [_tcp(url_port(otlp, default=4318))]})
    return rules


def _database_egress(agent: Agent) -> dict[str, Any]:
    """Managed: only our PostgreSQL pods. External: the PostgreSQL port anywhere."""
    if agent.managed_db:
        pods = {"podSelector": {"matchLabels": selector_labels(agent, c.COMPONENT_DATABASE)}}
        return {"to": [pods], "ports": [_tcp(c.POSTGRES_PORT)]}
    return {"ports": [_tcp(c.POSTGRES_PORT)]}


def _tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}
