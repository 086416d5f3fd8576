"""NetworkPolicies: default deny, then exactly the traffic each pod of a RagAgent needs.

Every pod the operator renders carries the RagAgent's name and instance labels, so
the default deny selects them all. ``POD_NEEDS`` is the one list of what each
component's command connects to: each component gets an allow policy built from
it, and the managed database accepts exactly the components that need it.

A NetworkPolicy cannot match host names, so egress to an HTTP endpoint (the
model, the OTLP collector, the JWKS URL, the backups' S3 endpoint) opens the URL's
port: to the namespace of the Service the host names, when it names one, else to
every address.
``spec.networkPolicy.endpoints`` gives the exact peers, and the pods' port behind a
Service, instead.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from ragagent_operator import constants as c
from ragagent_operator import jobs, spec_network
from ragagent_operator.render import common

METADATA_NAME_LABEL = "kubernetes.io/metadata.name"
_DEFAULT_PORTS = {"https": 443, "http": 80}
OPENAI_URL = "https://api.openai.com"


class Need(enum.Enum):
    """Something a pod's command opens connections to (DNS is every pod's)."""

    DATABASE = "database"
    CHAT = "chat"  # the chat model, with model.provider openai
    EMBEDDINGS = "embeddings"  # the embeddings API, with model.embeddingProvider openai
    SOURCES = "sources"  # the https knowledge sources
    TRACING = "tracing"  # the OTLP collector
    JWKS = "jwks"  # the keys of auth.jwt.jwksURL
    OBJECT_STORAGE = "objectStorage"  # backup.objectStorage's S3 endpoint


# One line per component the operator starts pods for. PostgreSQL is not here: it only
# answers, so it gets ingress from the components that need it and no egress.
POD_NEEDS: Final[Mapping[str, frozenset[Need]]] = MappingProxyType(
    {
        # Only the server exports spans: the CLI commands install no tracer provider.
        c.COMPONENT_AGENT: frozenset(
            {Need.DATABASE, Need.CHAT, Need.EMBEDDINGS, Need.TRACING, Need.JWKS}
        ),
        c.COMPONENT_INGEST: frozenset({Need.DATABASE, Need.EMBEDDINGS, Need.SOURCES}),
        c.COMPONENT_REINDEX: frozenset({Need.DATABASE, Need.EMBEDDINGS}),
        # The backup CronJob's Jobs and the pre-reindex backup Job: pg_dump to a volume, then
        # the copy to the bucket; a restore may read from the bucket.
        c.COMPONENT_BACKUP: frozenset({Need.DATABASE, Need.OBJECT_STORAGE}),
        c.COMPONENT_RESTORE: frozenset({Need.DATABASE, Need.OBJECT_STORAGE}),
        c.COMPONENT_USAGE: frozenset({Need.DATABASE}),  # ragagent usage --report
    }
)
# Every policy name suffix this module renders or once rendered, so the reconciler can
# delete the unwanted ones. "jobs" was the single policy of the ingest and backup Jobs.
POLICY_SUFFIXES: Final = ("default-deny", *POD_NEEDS, c.COMPONENT_DATABASE, "jobs")


def url_port(url: str, default: int = 443) -> int:
    """The port of ``url``; the scheme's default when absent."""
    parts = urlsplit(url)
    return parts.port or _DEFAULT_PORTS.get(parts.scheme, default)


def service_namespace(agent: common.Agent, url: str) -> str | None:
    """The namespace of the in-cluster Service that ``url``'s host names; None for other hosts.

    ``<svc>`` is a Service of the agent's namespace; ``<svc>.<ns>.svc``, with or without
    the cluster domain, one of ``<ns>`` (as is a StatefulSet pod's ``<pod>.<svc>.<ns>.svc``).
    Any other name, ``<svc>.<ns>`` included, may also resolve outside the cluster through
    the search list, and an IP may be anything, so those get no namespace.
    """
    host = (urlsplit(url).hostname or "").rstrip(".")
    if not host or _is_ip(host):
        return None
    labels = host.split(".")
    if len(labels) == 1:
        return agent.namespace
    for suffix in (["svc"], ["svc", *agent.cluster_domain.split(".")]):
        if len(labels) > len(suffix) + 1 and labels[-len(suffix) :] == suffix:
            return labels[-len(suffix) - 1]
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def build_network_policies(
    agent: common.Agent, *, served: common.Agent | None = None
) -> list[common.Manifest]:
    """Rendered only when ``spec.networkPolicy.enabled``.

    Every component's policy is rendered even while it runs no pod (no restore, backups
    off), so a Job never starts before the policy it needs exists. ``served``: the agent
    with the serving generation's index settings (``steps.reindex``), which the agent's and
    the ingest pods embed with until a re-index switches; the re-index pod uses the spec's.
    """
    served = served or agent
    one_shot = [
        _job_policy(served if component == c.COMPONENT_INGEST else agent, component)
        for component in jobs.COMPONENTS
    ]
    policies = [_default_deny(agent), _agent_policy(served), *one_shot]
    if agent.managed_db:
        policies.append(_database_policy(agent))
    return policies


def _policy(agent: common.Agent, suffix: str, policy: dict[str, Any]) -> common.Manifest:
    meta = common.metadata(agent, common.name_of(agent, suffix), c.COMPONENT_AGENT)
    return common.child("networking.k8s.io/v1", "NetworkPolicy", meta, spec=policy)


def _default_deny(agent: common.Agent) -> common.Manifest:
    pods = {"matchLabels": {c.LABEL_INSTANCE: agent.name, c.LABEL_NAME: c.APP_NAME}}
    return _policy(
        agent, "default-deny", {"podSelector": pods, "policyTypes": ["Ingress", "Egress"]}
    )


def _agent_policy(agent: common.Agent) -> common.Manifest:
    peers = [peer.model_dump(by_alias=True, exclude_none=True) for peer in _ingress_peers(agent)]
    monitoring = {
        "namespaceSelector": {"matchLabels": {METADATA_NAME_LABEL: agent.monitoring_namespace}}
    }
    egress = _egress(agent, POD_NEEDS[c.COMPONENT_AGENT])
    policy = {
        "podSelector": common.match_labels(agent, c.COMPONENT_AGENT),
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {"from": peers or [{"podSelector": {}}], "ports": [_tcp(c.APP_PORT)]},
            {"from": [monitoring], "ports": [_tcp(c.METRICS_PORT)]},
        ],
        "egress": egress + list(agent.spec.network_policy.extra_egress),
    }
    return _policy(agent, c.COMPONENT_AGENT, policy)


def _ingress_peers(agent: common.Agent) -> list[Any]:
    return list(agent.spec.network_policy.ingress_from)


def _job_policy(agent: common.Agent, component: str) -> common.Manifest:
    """A one-shot pod's egress; it accepts no connection, so the default deny's ingress holds."""
    policy = {
        "podSelector": common.match_labels(agent, component),
        "policyTypes": ["Egress"],
        "egress": _egress(agent, POD_NEEDS[component]),
    }
    return _policy(agent, component, policy)


def _database_policy(agent: common.Agent) -> common.Manifest:
    """The managed PostgreSQL: port 5432 from the components that use it; no egress."""
    users = [component for component, needs in POD_NEEDS.items() if Need.DATABASE in needs]
    clients = {
        "matchLabels": {c.LABEL_INSTANCE: agent.name, c.LABEL_NAME: c.APP_NAME},
        "matchExpressions": [{"key": c.LABEL_COMPONENT, "operator": "In", "values": users}],
    }
    policy = {
        "podSelector": common.match_labels(agent, c.COMPONENT_DATABASE),
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"podSelector": clients}], "ports": [_tcp(c.POSTGRES_PORT)]}],
    }
    return _policy(agent, c.COMPONENT_DATABASE, policy)


def _egress(agent: common.Agent, needs: frozenset[Need]) -> list[dict[str, Any]]:
    """DNS, then one rule per need that this spec turns on."""
    dns = {
        "to": [{"namespaceSelector": {}}],
        "ports": [{"protocol": "UDP", "port": c.DNS_PORT}, _tcp(c.DNS_PORT)],
    }
    rules: list[dict[str, Any]] = [dns]
    if Need.DATABASE in needs:
        rules.append(_database_egress(agent))
    rules += _endpoint_rules(agent, needs)
    if Need.SOURCES in needs:
        rules += _sources_egress(agent)
    return rules


def _jwks_url(agent: common.Agent) -> str | None:
    """The URL the agent fetches token keys from; None unless auth.mode is jwt."""
    auth = agent.spec.auth
    return auth.jwt.jwks_url if auth.mode == "jwt" and auth.jwt else None


def _endpoint_rules(agent: common.Agent, needs: frozenset[Need]) -> list[dict[str, Any]]:
    """One rule per HTTP endpoint the pod calls: the model, the collector, the JWKS URL."""
    endpoints = agent.spec.network_policy.endpoints or spec_network.Endpoints()
    rules = []
    if _calls_model(agent, needs):
        url = agent.spec.model.base_url or OPENAI_URL
        rules.append(_endpoint_rule(agent, url, endpoints.model))
    if Need.CHAT in needs and agent.spec.model.provider == "openai":
        # Fallback providers: their URL's port to any address (their hosts are names).
        rules += [_endpoint_rule(agent, f.base_url, None) for f in agent.spec.model.fallbacks]
    otlp = agent.spec.observability.tracing.otlp_endpoint
    if Need.TRACING in needs and otlp:
        rules.append(_endpoint_rule(agent, otlp, endpoints.tracing, default_port=4318))
    jwks = _jwks_url(agent)
    if Need.JWKS in needs and jwks:
        rules.append(_endpoint_rule(agent, jwks, endpoints.jwks))
    storage = agent.spec.backup.object_storage
    if Need.OBJECT_STORAGE in needs and storage:
        rules.append(_endpoint_rule(agent, storage.endpoint, endpoints.object_storage))
    return rules


def _endpoint_rule(
    agent: common.Agent,
    url: str,
    egress: spec_network.EndpointEgress | None,
    *,
    default_port: int = 443,
) -> dict[str, Any]:
    """The URL's port (or ``egress.port``) to ``egress.to``, else to the URL's Service's
    namespace, else (no ``to``) to every address."""
    egress = egress or spec_network.EndpointEgress()
    ports = [_tcp(egress.port or url_port(url, default_port))]
    peers = [
        peer.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
        for peer in egress.to
    ]
    namespace = service_namespace(agent, url)
    if not peers and namespace:
        peers = [{"namespaceSelector": {"matchLabels": {METADATA_NAME_LABEL: namespace}}}]
    return {"to": peers, "ports": ports} if peers else {"ports": ports}


def _calls_model(agent: common.Agent, needs: frozenset[Need]) -> bool:
    """Whether the pod calls the OpenAI-compatible endpoint: chat or embeddings there."""
    model = agent.spec.model
    chat = Need.CHAT in needs and model.provider == "openai"
    return chat or (Need.EMBEDDINGS in needs and model.embedding_provider == "openai")


def _sources_egress(agent: common.Agent) -> list[dict[str, Any]]:
    """The ports of the https sources, to any address (their hosts are names)."""
    urls = [source.url for source in agent.spec.knowledge.sources if source.url]
    ports = sorted({url_port(url) for url in urls})
    return [{"ports": [_tcp(port) for port in ports]}] if ports else []


def _database_egress(agent: common.Agent) -> dict[str, Any]:
    """Managed: only our PostgreSQL pods. External: the PostgreSQL port anywhere."""
    if agent.managed_db:
        pods = {"podSelector": common.match_labels(agent, c.COMPONENT_DATABASE)}
        return {"to": [pods], "ports": [_tcp(c.POSTGRES_PORT)]}
    return {"ports": [_tcp(c.POSTGRES_PORT)]}


def _tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}
