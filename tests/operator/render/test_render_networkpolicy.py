"""NetworkPolicies let each rendered pod reach what its command needs (issue 12).

Each test evaluates the rendered policies with ``netpol`` in the small cluster of
``netpol_world``; the full matrix of specs is in ``test_network_policy_matrix``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.operator.render import netpol
from tests.operator.render.netpol_world import (
    INTERNET,
    KUBE_DNS,
    make_agent,
    pods_of,
    policies_of,
)

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
    [("https://login.example.com/keys", 443), ("http://keys.example.com:8080/jwks.json", 8080)],
)
def test_jwks_port_is_open_for_the_agent_with_the_extractive_provider(
    jwks_url: str, port: int
) -> None:
    agent = make_agent(auth={"mode": "jwt", "jwt": {**JWT, "jwksURL": jwks_url}})
    pods, policies = pods_of(agent), policies_of(agent)
    assert netpol.allows(policies, pods["agent"], INTERNET, "TCP", port)
    assert not netpol.allows(policies, pods["reindex"], INTERNET, "TCP", port)
