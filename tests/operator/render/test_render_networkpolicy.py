"""NetworkPolicies let each rendered pod reach what its command needs (issue 12).

Each test evaluates the rendered policies with ``netpol`` in the small cluster of
``netpol_world``; the full matrix of specs is in ``test_network_policy_matrix``.
"""

from __future__ import annotations

from typing import Any

import pytest

from ragagent_operator import constants as c
from ragagent_operator import jobs
from ragagent_operator.render import networkpolicy, reindex
from tests.operator.render import netpol
from tests.operator.render.netpol import Endpoint
from tests.operator.render.netpol_world import (
    INTERNET,
    KUBE_DNS,
    LLM,
    NEIGHBOUR,
    OTEL,
    STRANGER,
    make_agent,
    pods_of,
    policies_of,
)
from tests.operator.render.pods import rendered_pods

ONE_SHOT = ["ingest", "reindex", "backup", "pre-reindex-backup", "restore"]
SEALED_KEY = {"sealed": {"encryptedValue": "x"}}
JWT = {"issuer": "https://login.example.com", "audience": "docs"}


def every_pod_spec(**spec: Any) -> dict[str, Any]:
    """A spec under which the operator renders every kind of pod."""
    return {
        "knowledge": {"sources": [{"configMap": {"name": "faq"}}]},
        "backup": {"enabled": True},
        "restore": {"from": "20250310T020000.123Z-1a2b3c4d"},
        **spec,
    }


def openai_model(**model: Any) -> dict[str, Any]:
    return {"provider": "openai", "embeddingProvider": "openai", "apiKey": SEALED_KEY, **model}


@pytest.mark.parametrize("role", ONE_SHOT)
def test_every_one_shot_pod_reaches_dns_and_the_managed_database(role: str) -> None:
    agent = make_agent(**every_pod_spec())
    pods, policies = pods_of(agent), policies_of(agent)
    assert netpol.allows(policies, pods[role], KUBE_DNS, "UDP", 53)
    assert netpol.allows(policies, pods[role], KUBE_DNS, "TCP", 53)
    assert netpol.allows(policies, pods[role], pods["database"], "TCP", 5432)


@pytest.mark.parametrize("role", ONE_SHOT)
def test_every_one_shot_pod_reaches_an_external_database(role: str) -> None:
    external = {"external": {"secretRef": {"name": "db", "key": "url"}}}
    agent = make_agent(**every_pod_spec(database=external))
    assert netpol.allows(policies_of(agent), pods_of(agent)[role], INTERNET, "TCP", 5432)


@pytest.mark.parametrize("role", ["backup", "pre-reindex-backup", "restore"])
def test_backup_and_restore_pods_get_no_model_or_https_egress(role: str) -> None:
    sources = [{"url": "https://docs.example.com/a.md"}]
    spec = every_pod_spec(model=openai_model(), knowledge={"sources": sources})
    agent = make_agent(**spec)
    assert not netpol.allows(policies_of(agent), pods_of(agent)[role], INTERNET, "TCP", 443)


def test_ingest_opens_the_ports_of_its_https_sources_only() -> None:
    sources = [{"configMap": {"name": "faq"}}, {"url": "https://docs.example.com:8443/a.md"}]
    agent = make_agent(knowledge={"sources": sources})
    ingest = pods_of(agent)["ingest"]
    assert netpol.allows(policies_of(agent), ingest, INTERNET, "TCP", 8443)
    assert not netpol.allows(policies_of(agent), ingest, INTERNET, "TCP", 443)
    only_config_maps = make_agent(knowledge={"sources": sources[:1]})
    ingest = pods_of(only_config_maps)["ingest"]
    assert not netpol.allows(policies_of(only_config_maps), ingest, INTERNET, "TCP", 8443)


@pytest.mark.parametrize(
    ("jwks_url", "port"),
    [("https://login.example.com/keys", 443), ("https://keys.example.com:8080/jwks.json", 8080)],
)
def test_jwks_port_is_open_for_the_agent_with_the_extractive_provider(
    jwks_url: str, port: int
) -> None:
    agent = make_agent(auth={"mode": "jwt", "jwt": {**JWT, "jwksURL": jwks_url}})
    pods, policies = pods_of(agent), policies_of(agent)
    assert netpol.allows(policies, pods["agent"], INTERNET, "TCP", port)
    assert not netpol.allows(policies, pods["reindex"], INTERNET, "TCP", port)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://llm.models.svc:8080/v1",
        "http://llm.models.svc.cluster.local:8080/v1",
        "http://llm.models.svc.cluster.local.:8080/v1",
    ],
)
def test_an_in_cluster_model_service_is_reached_in_its_namespace_only(base_url: str) -> None:
    agent = make_agent(model=openai_model(baseURL=base_url))
    pods, policies = pods_of(agent), policies_of(agent)
    for role in ("agent", "reindex"):
        assert netpol.allows(policies, pods[role], LLM, "TCP", 8080)
        assert not netpol.allows(policies, pods[role], STRANGER, "TCP", 8080)
        assert not netpol.allows(policies, pods[role], INTERNET, "TCP", 8080)


def test_a_single_label_service_url_means_this_namespace() -> None:
    agent = make_agent(model=openai_model(baseURL="http://llm:8080/v1"))
    agent_pod, policies = pods_of(agent)["agent"], policies_of(agent)
    assert netpol.allows(policies, agent_pod, NEIGHBOUR, "TCP", 8080)
    assert not netpol.allows(policies, agent_pod, LLM, "TCP", 8080)
    assert not netpol.allows(policies, agent_pod, INTERNET, "TCP", 8080)


def test_an_in_cluster_otlp_collector_is_reached_in_its_namespace_only() -> None:
    tracing = {"otlpEndpoint": "http://otel.observability.svc.cluster.local:4318"}
    agent = make_agent(observability={"tracing": tracing})
    agent_pod, policies = pods_of(agent)["agent"], policies_of(agent)
    assert netpol.allows(policies, agent_pod, OTEL, "TCP", 4318)
    assert not netpol.allows(policies, agent_pod, STRANGER, "TCP", 4318)
    assert not netpol.allows(policies, agent_pod, INTERNET, "TCP", 4318)


@pytest.mark.parametrize(
    "base_url",
    ["https://llm.example.com:8443/v1", "http://10.96.0.50:8443", "http://llm.models:8443"],
)
def test_any_other_host_keeps_its_port_open_to_every_address(base_url: str) -> None:
    """A host name outside the cluster, an IP (perhaps a ClusterIP) or a name the
    resolver's search list might expand: the policy cannot know the address."""
    agent = make_agent(model=openai_model(baseURL=base_url))
    agent_pod, policies = pods_of(agent)["agent"], policies_of(agent)
    for there in (INTERNET, STRANGER, LLM):
        assert netpol.allows(policies, agent_pod, there, "TCP", 8443)


def test_endpoint_peers_replace_the_default_destination() -> None:
    block = {"ipBlock": {"cidr": "198.51.100.0/24", "except": ["198.51.100.128/25"]}}
    agent = make_agent(
        model=openai_model(baseURL="https://llm.example.com/v1"),
        networkPolicy={"endpoints": {"model": {"to": [block]}}},
    )
    agent_pod, policies = pods_of(agent)["agent"], policies_of(agent)
    (egress,) = [p["spec"]["egress"] for p in policies if p["metadata"]["name"] == "docs-agent"]
    assert {"to": [block], "ports": [{"protocol": "TCP", "port": 443}]} in egress
    assert netpol.allows(policies, agent_pod, Endpoint("llm", "198.51.100.7"), "TCP", 443)
    assert not netpol.allows(policies, agent_pod, Endpoint("llm", "198.51.100.200"), "TCP", 443)
    assert not netpol.allows(policies, agent_pod, INTERNET, "TCP", 443)


def test_endpoint_port_opens_the_pods_port_behind_a_service() -> None:
    """A Service's port is translated to its targetPort before the policy sees it."""
    pods_selector = {"podSelector": {"matchLabels": {"app": "otel"}}}
    namespace = {"namespaceSelector": {"matchLabels": {netpol.METADATA_NAME: "observability"}}}
    tracing = {"to": [{**namespace, **pods_selector}], "port": 4319}
    agent = make_agent(
        observability={"tracing": {"otlpEndpoint": "http://otel.observability.svc"}},
        networkPolicy={"endpoints": {"tracing": tracing}},
    )
    agent_pod, policies = pods_of(agent)["agent"], policies_of(agent)
    assert netpol.allows(policies, agent_pod, OTEL, "TCP", 4319)
    assert not netpol.allows(policies, agent_pod, OTEL, "TCP", 80)
    other_pod = Endpoint("other", "10.244.4.3", "observability", {"app": "other"})
    assert not netpol.allows(policies, agent_pod, other_pod, "TCP", 4319)


def test_the_reconciler_knows_every_policy_name_and_the_retired_jobs_policy() -> None:
    names = {policy["metadata"]["name"] for policy in policies_of(make_agent())}
    assert names <= {f"docs-{suffix}" for suffix in networkpolicy.POLICY_SUFFIXES}
    assert "jobs" in networkpolicy.POLICY_SUFFIXES
    assert "docs-jobs" not in names


def test_each_job_component_has_its_needs_and_policy_and_labels_its_pods() -> None:
    """jobs.COMPONENTS is the one list: POD_NEEDS, the policies and the pods agree."""
    assert set(networkpolicy.POD_NEEDS) == {c.COMPONENT_AGENT, *jobs.COMPONENTS}
    agent = make_agent(**every_pod_spec())
    names = {policy["metadata"]["name"] for policy in policies_of(agent)}
    assert {f"{agent.name}-{component}" for component in jobs.COMPONENTS} <= names
    one_shot = {role: pod for role, pod in rendered_pods(agent).items() if role in ONE_SHOT}
    assert set(one_shot) == set(ONE_SHOT)
    for template in one_shot.values():
        assert template["metadata"]["labels"][c.LABEL_COMPONENT] in jobs.COMPONENTS


def test_until_a_switch_the_agent_and_ingest_egress_follow_the_served_embeddings() -> None:
    """The spec moved from local MiniLM to an embeddings API: only the re-index pod calls
    it until the Job switched; the agent and ingest pods still embed locally."""
    before = make_agent(**every_pod_spec())
    base_url = "http://llm.models.svc:8080/v1"
    embeddings = {"embeddingProvider": "openai", "baseURL": base_url, "apiKey": SEALED_KEY}
    changed = make_agent(**every_pod_spec(model={**embeddings, "embeddingDimension": 512}))
    served = reindex.build_served_agent(changed, reindex.build_index_settings(before))
    pods = pods_of(changed)
    policies = networkpolicy.build_network_policies(changed, served=served)
    assert netpol.allows(policies, pods["reindex"], LLM, "TCP", 8080)
    for role in ("agent", "ingest"):
        assert not netpol.allows(policies, pods[role], LLM, "TCP", 8080)
    switched = networkpolicy.build_network_policies(changed)
    assert all(
        netpol.allows(switched, pods[role], LLM, "TCP", 8080) for role in ("agent", "ingest")
    )
