"""Cluster DNS and the sealed-secrets controller as pods on the real node, as real clusters
run them, checked without starting anything."""

from __future__ import annotations

from typing import Any

from tests.support import node_config, node_dns, node_images, node_sealing


def by_kind(image: str) -> dict[str, dict[str, Any]]:
    return {str(item["kind"]): item for item in node_dns.build_objects(image)}


def test_cluster_dns_is_a_kube_dns_service_in_kube_system_on_port_53() -> None:
    service = by_kind("dns:1")["Service"]
    assert service["metadata"] == {
        "name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"},
    }  # fmt: skip
    deployment = by_kind("dns:1")["Deployment"]
    assert deployment["spec"]["selector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    ports = {(p["protocol"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {("UDP", 53, 53), ("TCP", 53, 53)}
    assert service["spec"]["clusterIP"] == node_dns.CLUSTER_DNS_IP


def test_the_coredns_pod_is_restricted_and_binds_53_without_capabilities() -> None:
    pod = node_dns.build_deployment("dns:1")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "dns:1"
    assert container["securityContext"] == {
        "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "53"} in pod["securityContext"][
        "sysctls"
    ]
    assert pod["nodeSelector"] == {node_config.REAL_NODE_LABEL: "true"}
    assert pod["dnsPolicy"] == "Default"  # forwards to the node's resolvers, not to itself


def test_coredns_asks_for_what_upstream_gives_it() -> None:
    """kubeadm's requests and limit; the CPU request is its weight on a busy node."""
    (container,) = node_dns.build_deployment("dns:1")["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "70Mi"}
    assert container["resources"]["limits"] == {"memory": "170Mi"}


def test_the_corefile_serves_the_cluster_domain_from_the_api_in_cluster() -> None:
    corefile = node_dns.build_corefile()
    assert corefile.startswith(".:53 {")
    assert f"kubernetes {node_config.CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{" in corefile
    assert "kubeconfig" not in corefile  # its ServiceAccount, through the kubernetes Service
    assert f"ready :{node_dns.READY_PORT}" in corefile


def test_the_coredns_image_is_the_binary_alone_as_a_non_root_user() -> None:
    lines = node_images.build_binary_containerfile("coredns").splitlines()
    assert lines[0] == "FROM scratch"
    assert f"USER {node_images.BINARY_UID}:{node_images.BINARY_UID}" in lines
    assert lines[-1] == 'ENTRYPOINT ["/coredns"]'


def test_the_sealing_controller_is_a_restricted_pod_behind_the_service_the_operator_asks() -> None:
    service, deployment = node_sealing.build_objects("sealer:1")
    assert service["metadata"]["name"] == "sealed-secrets-controller"
    assert service["metadata"]["namespace"] == "kube-system"
    # One unnamed port: the operator's default path is http:sealed-secrets-controller:
    assert service["spec"]["ports"] == [{"port": 8080, "targetPort": 8080}]
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "sealed-secrets-controller"
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "--key-renew-period=0" in container["args"]
