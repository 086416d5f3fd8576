"""Services route on the real node: kube-proxy (nftables mode) takes a pod's connection to a
ClusterIP to the backend pod, a Service's DNS name leads through its ClusterIP to the pod,
and the host reaches both the ClusterIP and a NodePort on the node's IP."""

from __future__ import annotations

import functools
import urllib.request
from collections.abc import Iterator

import pytest

from tests.node import kube, pods
from tests.support import controlplane, images, node, node_config

pytestmark = [pytest.mark.k8s, pytest.mark.node, pytest.mark.slow]
WEB, PROBE, SERVICE, NODE_PORT_SERVICE = "web", "probe", "web-svc", "web-np"


@pytest.fixture(scope="module")
def services_namespace(
    cluster: controlplane.ControlPlane, real_node: node.RealNode, agent_image: images.ImageRefs
) -> Iterator[str]:
    """A web pod behind a ClusterIP and a NodePort Service, and a probe pod, all Ready."""
    with kube.namespace(cluster, "t-services") as name:
        kube.apply(cluster, name, pods.build_web_pod(WEB, image=agent_image.agent))
        kube.apply(cluster, name, pods.build_probe_pod(PROBE, image=agent_image.agent, labels={}))
        kube.apply(cluster, name, pods.build_service(SERVICE, selects=WEB))
        kube.apply(
            cluster, name, pods.build_service(NODE_PORT_SERVICE, selects=WEB, node_port=True)
        )
        kube.wait_ready(cluster, name, WEB, PROBE)
        yield name


def cluster_ip(cluster: controlplane.ControlPlane, namespace: str, service: str) -> str:
    return kube.field(cluster, namespace, "service", service, ".spec.clusterIP")


def test_a_cluster_ip_routes_from_a_pod_to_the_backend_pod(
    cluster: controlplane.ControlPlane, services_namespace: str
) -> None:
    ip = cluster_ip(cluster, services_namespace, SERVICE)
    assert ip.startswith("10.0.0.")
    kube.eventually(
        f"{PROBE} connects to {ip}",
        lambda: kube.can_connect(cluster, services_namespace, PROBE, ip, pods.WEB_PORT),
    )
    url = f"http://{ip}:{pods.WEB_PORT}/{pods.WEB_FILE}"
    assert kube.fetch(cluster, services_namespace, PROBE, url) == WEB  # its /etc/hostname


def test_a_service_name_leads_through_its_cluster_ip_to_the_pod(
    cluster: controlplane.ControlPlane, services_namespace: str
) -> None:
    fqdn = f"{SERVICE}.{services_namespace}.svc.{node_config.CLUSTER_DOMAIN}"
    address = kube.resolve(cluster, services_namespace, PROBE, fqdn)
    assert address == cluster_ip(cluster, services_namespace, SERVICE)
    kube.eventually(
        f"{PROBE} connects to {SERVICE}",
        lambda: kube.can_connect(cluster, services_namespace, PROBE, SERVICE, pods.WEB_PORT),
    )
    url = f"http://{SERVICE}:{pods.WEB_PORT}/{pods.WEB_FILE}"  # the search path completes it
    assert kube.fetch(cluster, services_namespace, PROBE, url) == WEB


def host_gets_web(url: str) -> bool:
    """True when this (host) process gets the web pod's hostname from ``url``."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a test URL)
            return bool(response.read().decode().strip() == WEB)
    except OSError:
        return False


def test_the_host_reaches_a_cluster_ip_and_a_node_port(
    cluster: controlplane.ControlPlane, real_node: node.RealNode, services_namespace: str
) -> None:
    ip = cluster_ip(cluster, services_namespace, SERVICE)
    jsonpath = ".spec.ports[0].nodePort"
    port = kube.field(cluster, services_namespace, "service", NODE_PORT_SERVICE, jsonpath)
    for url in (
        f"http://{ip}:{pods.WEB_PORT}/{pods.WEB_FILE}",
        f"http://{real_node.node_ip}:{port}/{pods.WEB_FILE}",
    ):
        kube.eventually(f"the host gets {url}", functools.partial(host_gets_web, url))


# What an in-cluster client does: the Service's address from the environment, the
# ServiceAccount's token and CA; prints the API server's version.
IN_CLUSTER_GET = """
import json, os, ssl, sys, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
context = ssl.create_default_context(cafile=sa + "ca.crt")
headers = {"Authorization": "Bearer " + open(sa + "token").read()}
request = urllib.request.Request(sys.argv[1] + "/version", headers=headers)
print(json.load(urllib.request.urlopen(request, context=context, timeout=5))["gitVersion"])
"""


def test_a_pod_reaches_the_api_server_through_the_kubernetes_service(
    cluster: controlplane.ControlPlane, services_namespace: str
) -> None:
    env = kube.in_pod(cluster, services_namespace, PROBE, "printenv", "KUBERNETES_SERVICE_HOST")
    host = env.stdout.strip()
    for url in (f"https://{host}:443", "https://kubernetes.default.svc"):
        got = kube.in_pod(cluster, services_namespace, PROBE, "python3", "-c", IN_CLUSTER_GET, url)
        assert got.returncode == 0, f"{url}: {got.stderr}"
        assert got.stdout.strip().startswith("v1."), got.stdout
