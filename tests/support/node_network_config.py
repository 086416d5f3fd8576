"""Pure builders for the real node's Service proxy and NetworkPolicy engine
(tests/support/node_network.py): kube-proxy's configuration, kube-router's command line, the
RBAC kube-router reads with, and the client certificates of both. No processes, no I/O."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support import components, node_config, pki

# The built-in ClusterRoleBinding system:node-proxier grants this user what kube-proxy reads.
KUBE_PROXY_USER = "system:kube-proxy"
KUBE_ROUTER_USER = "ragagent:kube-router"
KUBE_ROUTER_ROLE = "ragagent-kube-router"


@dataclasses.dataclass(frozen=True)
class NetworkLayout:
    """Where the proxy and the policy engine keep their files: below the node's work dir,
    so the node's process sweep (its command lines name that dir) finds them too."""

    directory: Path

    @property
    def kube_proxy_config(self) -> Path:
        return self.directory / "kube-proxy.json"

    @property
    def kube_proxy_kubeconfig(self) -> Path:
        return self.directory / "kube-proxy.kubeconfig"

    @property
    def kube_router_kubeconfig(self) -> Path:
        return self.directory / "kube-router.kubeconfig"


@dataclasses.dataclass(frozen=True)
class ProxyPorts:
    healthz: int
    metrics: int


def build_kube_proxy_config(
    layout: NetworkLayout, network: node_config.Network, *, ports: ProxyPorts
) -> dict[str, Any]:
    """nftables mode: all its rules live in the tables ``ip kube-proxy`` and ``ip6
    kube-proxy``, so teardown is two table deletions. Traffic from the node's pod network is
    local (no masquerade), so NetworkPolicies still see the client pod's address behind a
    ClusterIP. The conntrack zeros leave the host's conntrack sysctls alone."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "nftables",
        "clientConnection": {"kubeconfig": str(layout.kube_proxy_kubeconfig)},
        "hostnameOverride": network.node_name,
        "bindAddress": network.node_ip,
        "clusterCIDR": str(network.subnet),
        "detectLocalMode": "ClusterCIDR",
        "healthzBindAddress": f"127.0.0.1:{ports.healthz}",
        "metricsBindAddress": f"127.0.0.1:{ports.metrics}",
        "nodePortAddresses": [f"{network.node_ip}/32"],
        # Its default of -999 needs CAP_SYS_RESOURCE, which root lacks here.
        "oomScoreAdj": 0,
        "conntrack": {
            "maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s", "udpTimeout": "0s", "udpStreamTimeout": "0s",
        },
    }  # fmt: skip


def build_kube_proxy_argv(binary: Path, layout: NetworkLayout) -> list[str]:
    return [str(binary), f"--config={layout.kube_proxy_config}", "--v=1"]


def build_kube_router_argv(
    binary: Path, layout: NetworkLayout, network: node_config.Network, *, health_port: int
) -> list[str]:
    """Only the network-policy controller: no BGP routing, no IPVS service proxy (kube-proxy
    serves Services). It finds the node's pods by the node's InternalIP."""
    return [
        str(binary), f"--kubeconfig={layout.kube_router_kubeconfig}",
        "--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
        f"--hostname-override={network.node_name}",
        f"--service-cluster-ip-range={components.SERVICE_CIDR}",  # the API server's
        f"--health-port={health_port}", "--metrics-port=0", "--enable-ipv6=false",
        "--v=1",
    ]  # fmt: skip


def build_kube_router_rbac() -> list[dict[str, Any]]:
    """Read access to what the policy controller watches, bound to its certificate's user."""
    group = "rbac.authorization.k8s.io"
    read = ["get", "list", "watch"]
    rules = [
        {"apiGroups": [""], "resources": ["namespaces", "pods", "services", "nodes", "endpoints"],
         "verbs": read},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": read},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"],
         "verbs": ["create", "patch", "update"]},
    ]  # fmt: skip
    role = {
        "apiVersion": f"{group}/v1", "kind": "ClusterRole",
        "metadata": {"name": KUBE_ROUTER_ROLE}, "rules": rules,
    }  # fmt: skip
    binding = {
        "apiVersion": f"{group}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": KUBE_ROUTER_ROLE},
        "roleRef": {"apiGroup": group, "kind": "ClusterRole", "name": KUBE_ROUTER_ROLE},
        "subjects": [{"apiGroup": group, "kind": "User", "name": KUBE_ROUTER_USER}],
    }
    return [role, binding]


def build_client_certs(*, ca: x509.Certificate, ca_key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    """Client certificates of kube-proxy and kube-router: PEM bytes by file name."""
    certs: dict[str, bytes] = {}
    for name, user in (("kube-proxy", KUBE_PROXY_USER), ("kube-router", KUBE_ROUTER_USER)):
        key = pki.new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)])
        cert = pki.build_leaf(key, ca=ca, ca_key=ca_key, subject=subject, server=False)
        certs[f"{name}.crt"], certs[f"{name}.key"] = pki.cert_pem(cert), pki.key_pem(key)
    return certs


API_SLICE_MANAGER = "ragagent-test-node"


def build_api_endpoint_slice(node_ip: str, port: int) -> dict[str, Any]:
    """The ``kubernetes`` Service's endpoint: the API server at the node's IP, a host address
    a pod routes to through its bridge (the API server binds every address, ``pod_reachable``).
    What the API server's own reconciler writes for its advertise address, and kube-proxy
    sends 10.0.0.1:443 there."""
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes", "namespace": "default",
            "labels": {
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": API_SLICE_MANAGER,
            },
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [node_ip], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }  # fmt: skip
