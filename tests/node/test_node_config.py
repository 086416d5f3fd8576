"""The real node's configuration, checked without starting anything."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path

from cryptography import x509

from tests.support import components, node_config, node_network_config, pki

LAYOUT = node_config.Layout.under(Path("/tmp/ragagent-node-test"))
NETWORK = node_config.Network(3)


def test_node_pod_networks_meet_no_other_range_of_the_cluster_or_the_host() -> None:
    others = [
        components.SERVICE_CIDR, components.POD_CIDR, f"{components.FAKE_NODE_IP}/32",
        "10.88.0.0/16",  # podman's default network on the host
    ]  # fmt: skip
    for other in others:
        assert not node_config.POD_NETWORKS.overlaps(ipaddress.ip_network(other, strict=False))
    assert NETWORK.subnet.subnet_of(node_config.POD_NETWORKS)


def test_containerd_config_keeps_its_state_in_the_work_dir_and_restricts_oom_score_adj() -> None:
    config = tomllib.loads(node_config.build_containerd_config(LAYOUT, sandbox_image="sb:1"))
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    runc = runtime["containerd"]["runtimes"]["runc"]["options"]
    assert config["version"] == 3
    assert runtime["restrict_oom_score_adj"] is True
    assert runtime["netns_mounts_under_state_dir"] is True
    assert runc == {
        "BinaryName": "/usr/sbin/runc",
        "SystemdCgroup": False,
        "Root": str(LAYOUT.containerd_state / "runc"),
    }
    assert config["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == "sb:1"
    for path in (config["root"], config["state"], config["grpc"]["address"]):
        assert path.startswith(str(LAYOUT.workdir))


def test_pod_network_avoids_the_control_planes_ranges() -> None:
    subnet = NETWORK.subnet
    for taken in (components.SERVICE_CIDR, components.POD_CIDR, "10.88.0.0/16"):
        assert not subnet.overlaps(ipaddress.ip_network(taken, strict=False))
    assert ipaddress.ip_address(components.FAKE_NODE_IP) not in subnet
    assert ipaddress.ip_address(NETWORK.node_ip) in subnet


def test_cni_bridge_gateway_is_the_node_ip() -> None:
    conflist = node_config.build_cni_conflist(LAYOUT, NETWORK)
    bridge = conflist["plugins"][0]
    assert bridge["bridge"] == NETWORK.bridge
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.222.3.0/24", "gateway": "10.222.3.1"}]]
    assert conflist["name"] == NETWORK.cni_name


def test_kubelet_is_tainted_labelled_and_authenticates_callers() -> None:
    argv = node_config.build_kubelet_argv(Path("kubelet"), LAYOUT, NETWORK)
    assert f"--register-with-taints={node_config.REAL_NODE_LABEL}=true:NoSchedule" in argv
    assert f"--node-labels={node_config.REAL_NODE_LABEL}=true" in argv
    assert f"--node-ip={NETWORK.node_ip}" in argv
    ports = node_config.KubeletPorts(server=1, healthz=2)
    config = node_config.build_kubelet_config(
        LAYOUT, NETWORK, ports=ports, ca_cert=Path("ca.crt"), dns_ip=NETWORK.node_ip
    )
    assert config["authentication"]["anonymous"] == {"enabled": False}
    assert config["authorization"] == {"mode": "Webhook"}
    assert config["readOnlyPort"] == 0
    assert config["cgroupRoot"] == "/ragagent-node-3"


def test_kubelet_serving_cert_names_the_node_ip_and_client_cert_the_node() -> None:
    ca_key = pki.new_key()
    ca = pki.build_ca(ca_key, "test-ca")
    certs = node_config.build_node_certs(NETWORK, ca=ca, ca_key=ca_key)
    serving = x509.load_pem_x509_certificate(certs["kubelet.crt"])
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address(NETWORK.node_ip) in sans.get_values_for_type(x509.IPAddress)
    client = x509.load_pem_x509_certificate(certs["kubelet-client.crt"])
    assert client.subject.rfc4514_string() == (f"O=system:nodes,CN=system:node:{NETWORK.node_name}")


def test_only_a_pod_reachable_api_server_leaves_loopback_and_its_endpoints_to_the_node(
    tmp_path: Path,
) -> None:
    material = pki.write_pki(tmp_path)
    ports = components.Ports(*range(1, 7))
    kwok = components.build_apiserver_argv(
        Path("/kas"), material=material, ports=ports, cert_dir=tmp_path
    )
    real = components.build_apiserver_argv(
        Path("/kas"), material=material, ports=ports, cert_dir=tmp_path, pod_reachable=True
    )
    assert "--bind-address=127.0.0.1" in kwok
    assert not any(arg.startswith("--endpoint-reconciler-type") for arg in kwok)
    assert "--bind-address=0.0.0.0" in real
    assert "--endpoint-reconciler-type=none" in real


def test_the_api_server_certificate_names_the_kubernetes_service(tmp_path: Path) -> None:
    """Pods dial 10.0.0.1 (KUBERNETES_SERVICE_HOST) or kubernetes.default.svc, and verify."""
    material = pki.write_pki(tmp_path)
    cert = x509.load_pem_x509_certificate(material.serving_cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address(pki.KUBERNETES_SERVICE_IP) in names.get_values_for_type(
        x509.IPAddress
    )
    assert "kubernetes.default.svc" in names.get_values_for_type(x509.DNSName)


def test_the_kubernetes_service_endpoint_is_the_node_ip_at_the_api_port() -> None:
    api = node_network_config.build_api_endpoint_slice(NETWORK.node_ip, 6443)
    assert api["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    assert api["endpoints"][0]["addresses"] == [NETWORK.node_ip]
    assert api["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
