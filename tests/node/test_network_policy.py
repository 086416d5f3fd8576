"""NetworkPolicies are enforced on the real node (kube-router's policy controller): real
connections are dropped or let through, not only rules written. A default-deny policy cuts
off every client; an allow policy lets in pods by label and by their namespace's label; an
egress policy blocks a pod's connections while the DNS it allows still resolves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ragagent_operator.render import networkpolicy
from ragagent_operator.render.common import build_agent
from tests.node import kube, pods
from tests.operator.render.pods import rendered_pods
from tests.support import controlplane, images, node, node_config, node_dns

pytestmark = [pytest.mark.k8s, pytest.mark.node, pytest.mark.slow]
WEB, SERVICE = "web", "web-svc"
FRIEND, STRANGER, NEIGHBOUR = "friend", "stranger", "neighbour"
TEAM_LABEL = {"team": "friends"}


def build_policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name}, "spec": spec,
    }  # fmt: skip


def deny_ingress() -> dict[str, Any]:
    return build_policy("deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})


def allow_friends() -> dict[str, Any]:
    """Into the web pod: from pods labelled role=friend, and from namespaces labelled
    team=friends."""
    sources = [
        {"podSelector": {"matchLabels": {"role": FRIEND}}},
        {"namespaceSelector": {"matchLabels": TEAM_LABEL}},
    ]
    spec = {
        "podSelector": {"matchLabels": {"app": WEB}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": sources, "ports": [{"protocol": "TCP", "port": pods.WEB_PORT}]}],
    }  # fmt: skip
    return build_policy("allow-friends", spec)


def lock_egress(*, allow_dns: bool) -> dict[str, Any]:
    """Out of the stranger pod: nothing, or only DNS (to any address, port 53)."""
    dns = [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]
    spec = {
        "podSelector": {"matchLabels": {"role": STRANGER}}, "policyTypes": ["Egress"],
        "egress": dns if allow_dns else [],
    }  # fmt: skip
    return build_policy("lock-egress", spec)


@pytest.fixture(scope="module")
def namespaces(
    cluster: controlplane.ControlPlane, real_node: node.RealNode, agent_image: images.ImageRefs
) -> Iterator[tuple[str, str]]:
    """(server namespace, neighbour namespace): the web pod, its Service and the friend and
    stranger probes in the first; the neighbour probe in the second, labelled team=friends."""
    image = agent_image.agent
    with (
        kube.namespace(cluster, "t-netpol") as server,
        kube.namespace(cluster, "t-netpol-nb", labels=TEAM_LABEL) as neighbours,
    ):
        kube.apply(cluster, server, pods.build_web_pod(WEB, image=image))
        kube.apply(cluster, server, pods.build_service(SERVICE, selects=WEB))
        for name in (FRIEND, STRANGER):
            probe = pods.build_probe_pod(name, image=image, labels={"role": name})
            kube.apply(cluster, server, probe)
        kube.apply(cluster, neighbours, pods.build_probe_pod(NEIGHBOUR, image=image, labels={}))
        kube.wait_ready(cluster, server, WEB, FRIEND, STRANGER)
        kube.wait_ready(cluster, neighbours, NEIGHBOUR)
        yield server, neighbours


@pytest.fixture
def server(cluster: controlplane.ControlPlane, namespaces: tuple[str, str]) -> Iterator[str]:
    """The server namespace, with no policy left behind by the test."""
    yield namespaces[0]
    cluster.kubectl("delete", "networkpolicy", "--all", "-n", namespaces[0])


def web_ip(cluster: controlplane.ControlPlane, namespace: str) -> str:
    return kube.field(cluster, namespace, "pod", WEB, ".status.podIP")


def reaches(cluster: controlplane.ControlPlane, namespace: str, pod: str, ip: str) -> bool:
    return kube.can_connect(cluster, namespace, pod, ip, pods.WEB_PORT)


def test_default_deny_ingress_cuts_off_every_client(
    cluster: controlplane.ControlPlane, namespaces: tuple[str, str], server: str
) -> None:
    ip, neighbours = web_ip(cluster, server), namespaces[1]
    kube.eventually(
        "friend reaches web before any policy", lambda: reaches(cluster, server, FRIEND, ip)
    )
    kube.apply(cluster, server, deny_ingress())
    kube.eventually("friend is cut off", lambda: not reaches(cluster, server, FRIEND, ip))
    assert not reaches(cluster, server, STRANGER, ip)
    assert not reaches(cluster, neighbours, NEIGHBOUR, ip)


def test_an_allow_policy_admits_pods_by_label_and_by_namespace_label(
    cluster: controlplane.ControlPlane, namespaces: tuple[str, str], server: str
) -> None:
    ip, neighbours = web_ip(cluster, server), namespaces[1]
    kube.apply(cluster, server, deny_ingress())
    kube.apply(cluster, server, allow_friends())
    kube.eventually("stranger is cut off", lambda: not reaches(cluster, server, STRANGER, ip))
    kube.eventually("friend gets in by label", lambda: reaches(cluster, server, FRIEND, ip))
    kube.eventually(
        "neighbour gets in by its namespace's label",
        lambda: reaches(cluster, neighbours, NEIGHBOUR, ip),
    )
    assert not reaches(cluster, server, STRANGER, ip)


def test_egress_deny_blocks_while_the_dns_it_allows_resolves(
    cluster: controlplane.ControlPlane, server: str
) -> None:
    ip = web_ip(cluster, server)
    fqdn = f"{SERVICE}.{server}.svc.{node_config.CLUSTER_DOMAIN}"
    service_ip = kube.field(cluster, server, "service", SERVICE, ".spec.clusterIP")
    kube.eventually("stranger reaches web", lambda: reaches(cluster, server, STRANGER, ip))
    assert kube.resolve(cluster, server, STRANGER, fqdn) == service_ip
    kube.apply(cluster, server, lock_egress(allow_dns=False))
    kube.eventually("stranger's egress is cut", lambda: not reaches(cluster, server, STRANGER, ip))
    assert kube.resolve(cluster, server, STRANGER, fqdn) is None  # DNS is egress too
    kube.apply(cluster, server, lock_egress(allow_dns=True))
    kube.eventually(
        "the allowed DNS resolves",
        lambda: kube.resolve(cluster, server, STRANGER, fqdn) == service_ip,
    )
    assert not reaches(cluster, server, STRANGER, ip)
    assert reaches(cluster, server, FRIEND, ip)  # the policy selects only the stranger


def agent_policies_and_labels(namespace: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The operator's NetworkPolicies for a minimal RagAgent in ``namespace`` (without the
    owner reference to a RagAgent that does not exist here), and its agent pods' labels."""
    metadata = {"name": "docs", "namespace": namespace, "uid": "u-1"}
    body: dict[str, Any] = {"metadata": metadata, "spec": {"database": {"managed": {}}}}
    agent = build_agent(body, default_image="unused", monitoring_namespace="monitoring")
    policies = networkpolicy.build_network_policies(agent)
    for policy in policies:
        policy["metadata"].pop("ownerReferences", None)
    return policies, dict(rendered_pods(agent)["agent"]["metadata"]["labels"])


def test_a_pod_under_the_agents_policies_resolves_through_the_cluster_dns_pod(
    cluster: controlplane.ControlPlane, agent_image: images.ImageRefs, server: str
) -> None:
    dns = kube.field(cluster, node_dns.NAMESPACE, "service", node_dns.SERVICE, ".spec.clusterIP")
    assert dns == node_dns.CLUSTER_DNS_IP
    policies, labels = agent_policies_and_labels(server)
    for policy in policies:
        kube.apply(cluster, server, policy)
    agent = pods.build_probe_pod("agent-like", image=agent_image.agent, labels=labels)
    kube.apply(cluster, server, agent)
    kube.wait_ready(cluster, server, "agent-like")
    fqdn = f"{SERVICE}.{server}.svc.{node_config.CLUSTER_DOMAIN}"
    service_ip = kube.field(cluster, server, "service", SERVICE, ".spec.clusterIP")
    try:
        kube.eventually(
            "the policies cut the agent-like pod off the web pod",
            lambda: not reaches(cluster, server, "agent-like", web_ip(cluster, server)),
        )
        assert kube.resolve(cluster, server, "agent-like", fqdn) == service_ip
    finally:
        cluster.kubectl("delete", "pod", "agent-like", "-n", server, "--wait=false")
