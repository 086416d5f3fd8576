"""Pure builders of the pods the real-node tests run: restricted (uid 10001, read-only root,
no capabilities, RuntimeDefault seccomp), pinned to the real node, from local images only."""

from __future__ import annotations

from typing import Any

from tests.support import node_config

WEB_PORT = 8080
UID = 10001
GREETING = "hello-from-real-node"
# A static file in every Debian image, served by the web pod and read by the probe.
WEB_FILE = "hostname"


def build_restricted_pod(
    name: str, *, image: str, command: list[str], restart_policy: str = "Always"
) -> dict[str, Any]:
    """A pod that selects and tolerates the real node (KWOK's node would only pretend)."""
    key = node_config.REAL_NODE_LABEL
    container = {
        "name": name, "image": image, "imagePullPolicy": "Never", "command": command,
        "securityContext": {
            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }  # fmt: skip
    spec = {
        "nodeSelector": {key: "true"},
        "tolerations": [{"key": key, "operator": "Exists", "effect": "NoSchedule"}],
        "restartPolicy": restart_policy,
        "terminationGracePeriodSeconds": 2,
        "securityContext": {
            "runAsUser": UID, "runAsGroup": UID, "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    }  # fmt: skip
    metadata = {"name": name, "labels": {"app": name}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def build_web_pod(name: str, *, image: str) -> dict[str, Any]:
    """Greets on stdout, then serves /etc over HTTP; Ready once the kubelet's probe gets a
    file from it through the pod network."""
    serve = f"echo {GREETING}; exec python3 -m http.server {WEB_PORT} --directory /etc"
    pod = build_restricted_pod(name, image=image, command=["sh", "-c", serve])
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": WEB_PORT}]
    pod["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": f"/{WEB_FILE}", "port": WEB_PORT},
        "periodSeconds": 1,
    }
    return pod


def build_client_pod(name: str, *, image: str, url: str) -> dict[str, Any]:
    """Fetches ``url`` once and prints the body; Succeeded only when that worked."""
    fetch = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=10).read())"
    return build_restricted_pod(
        name, image=image, command=["python3", "-c", fetch], restart_policy="Never"
    )


def build_service(
    name: str, *, selects: str, headless: bool = False, node_port: bool = False
) -> dict[str, Any]:
    """A Service for pod ``selects``: a ClusterIP one (kube-proxy routes it), a headless one
    (resolves straight to the pod IP) or a NodePort one."""
    spec: dict[str, Any] = {
        "selector": {"app": selects},
        "ports": [{"port": WEB_PORT, "targetPort": WEB_PORT}],
    }
    if headless:
        spec["clusterIP"] = "None"
    if node_port:
        spec["type"] = "NodePort"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def build_dns_client_pod(name: str, *, image: str, names: list[str], url: str) -> dict[str, Any]:
    """Prints ``<name> <address>`` for each name through the pod's resolver, then fetches
    ``url`` (by a Service name) and prints the body."""
    script = (
        "import socket, urllib.request\n"
        f"for n in {names!r}: print(n, socket.gethostbyname(n))\n"
        f"print(urllib.request.urlopen({url!r}, timeout=10).read())\n"
    )
    return build_restricted_pod(
        name, image=image, command=["python3", "-c", script], restart_policy="Never"
    )


def build_probe_pod(name: str, *, image: str, labels: dict[str, str]) -> dict[str, Any]:
    """A pod that only sleeps, for ``kubectl exec`` probes of the network. Its resolver gives
    up after one second, so a lookup that policy blocks fails fast."""
    pod = build_restricted_pod(name, image=image, command=["sleep", "infinity"])
    pod["metadata"]["labels"].update(labels)
    options = [{"name": "timeout", "value": "1"}, {"name": "attempts", "value": "1"}]
    pod["spec"]["dnsConfig"] = {"options": options}
    return pod
