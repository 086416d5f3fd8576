"""Cluster DNS on the real node the way clusters run it: CoreDNS as a Deployment in
kube-system behind the ``kube-dns`` Service (label ``k8s-app=kube-dns``), from the image
``node_images.ensure_coredns_image`` builds of the locally built binary.

It listens on port 53 in its pod, so a NetworkPolicy that allows DNS to port 53 of pods
(as the operator's does) reaches it, as on a real cluster. It runs as a non-root user on a
read-only root file system with no capabilities: the pod's ``ip_unprivileged_port_start``
sysctl (a namespaced, safe sysctl) lets it bind 53. It reads Services and pods through the
``kubernetes`` Service, so the node's kube-proxy must run first.

The objects are the cluster's, not one node's: a second node on the same control plane
applies the same ones, and a node's stop deletes only its pods.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support import controlplane, node_config, processes

NAMESPACE = "kube-system"
NAME = "coredns"
SERVICE = "kube-dns"
LABELS = {"k8s-app": "kube-dns"}
# In the Service range's static band (10.0.0.1-16), which dynamic allocation avoids.
CLUSTER_DNS_IP = "10.0.0.10"
READY_PORT, HEALTH_PORT = 8181, 8080
READY_TIMEOUT = 120.0
RBAC_GROUP = "rbac.authorization.k8s.io"


def build_corefile() -> str:
    """Services and pods from the API server; the rest forwarded to the node's resolvers
    (the pod's dnsPolicy Default gives it the node's resolv.conf)."""
    domain = node_config.CLUSTER_DOMAIN
    return f"""\
.:53 {{
    errors
    health :{HEALTH_PORT}
    ready :{READY_PORT}
    kubernetes {domain} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    forward . /etc/resolv.conf
    cache 30
    loop
}}
"""


def build_rbac() -> list[dict[str, Any]]:
    """What CoreDNS's kubernetes plugin watches, as upstream's ``system:coredns`` role."""
    meta = {"name": f"ragagent:{NAME}"}
    rules = [
        {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
         "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
         "verbs": ["list", "watch"]},
    ]  # fmt: skip
    account = {"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": NAME, "namespace": NAMESPACE}},
        {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": meta,
         "rules": rules},
        {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": meta["name"]},
         "subjects": [account]},
    ]  # fmt: skip


def build_container(image: str) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/ready", "port": READY_PORT}, "periodSeconds": 2}
    ports = [
        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
    ]
    return {
        "name": NAME, "image": image, "imagePullPolicy": "Never",
        "args": ["-conf", "/etc/coredns/Corefile"], "ports": ports,
        "readinessProbe": probe,
        "livenessProbe": {"httpGet": {"path": "/health", "port": HEALTH_PORT},
                          "periodSeconds": 10, "failureThreshold": 5},
        # Upstream's (kubeadm's) figures. The CPU request is also the pod's CPU weight
        # against the agents and Jobs on the node; the 10m it had was a 25th of an agent's.
        "resources": {"requests": {"cpu": "100m", "memory": "70Mi"},
                      "limits": {"memory": "170Mi"}},
        "securityContext": {
            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
    }  # fmt: skip


def build_deployment(image: str) -> dict[str, Any]:
    key = node_config.REAL_NODE_LABEL
    spec = {
        "serviceAccountName": NAME,
        "dnsPolicy": "Default",
        "priorityClassName": "system-cluster-critical",
        "nodeSelector": {key: "true"},
        "tolerations": [{"key": key, "operator": "Exists", "effect": "NoSchedule"}],
        "securityContext": {
            "runAsUser": 65532, "runAsGroup": 65532, "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "53"}],
        },
        "containers": [build_container(image)],
        "volumes": [{"name": "config", "configMap": {"name": NAME}}],
    }  # fmt: skip
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
        "spec": {
            "replicas": 1, "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS}, "spec": spec},
        },
    }  # fmt: skip


def build_objects(image: str) -> list[dict[str, Any]]:
    """Everything cluster DNS is, in apply order."""
    config = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": {"Corefile": build_corefile()},
    }  # fmt: skip
    ports = [
        {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "targetPort": 53, "protocol": "TCP"},
    ]
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": LABELS},
        "spec": {"selector": LABELS, "clusterIP": CLUSTER_DNS_IP, "ports": ports},
    }  # fmt: skip
    return [*build_rbac(), config, service, build_deployment(image)]


def ensure_cluster_dns(
    cluster: controlplane.ControlPlane, image: str, *, watch: list[processes.Component]
) -> None:
    """Applies cluster DNS and waits until its Deployment has a Ready pod."""
    ensure_system_deployment(cluster, build_objects(image), NAME, watch=watch)


def ensure_system_deployment(
    cluster: controlplane.ControlPlane,
    objects: list[dict[str, Any]],
    name: str,
    *,
    watch: list[processes.Component],
) -> None:
    """Applies ``objects`` and waits until Deployment kube-system/``name`` has a Ready pod."""
    for item in objects:
        cluster.kubectl("apply", "-f", "-", input=json.dumps(item))
    processes.wait_until(
        f"Deployment {NAMESPACE}/{name} available",
        lambda: _available(cluster, name),
        timeout=READY_TIMEOUT,
        watch=watch,
    )


def _available(cluster: controlplane.ControlPlane, name: str) -> bool:
    result = cluster.kubectl(
        "get", "deployment", name, "-n", NAMESPACE, "-o", "jsonpath={.status.availableReplicas}",
        check=False,
    )  # fmt: skip
    return result.stdout.strip() not in ("", "0")
