"""The sealed-secrets controller as a pod on the real node, as a chart install of it runs:
a Deployment in kube-system behind the ``sealed-secrets-controller`` Service, from the image
``node_images.ensure_binary_image`` builds of the locally built binary, with the control
plane's sealing key (the active key Secret it already holds).

The operator reads the sealing certificate through the API server's service proxy, which
only proxies to pod endpoints; so pods' operators (the chart's) need this pod. The control
plane's host-process controller keeps running for KWOK-only tests: both hold the same key
and unseal to the same Secret.
"""

from __future__ import annotations

from typing import Any

from tests.support import node_config, node_images, sealed_secrets

NAME = sealed_secrets.SERVICE_ACCOUNT  # the Service name the operator asks for by default
LABELS = {"name": NAME}
PORT = 8080


def build_container(image: str) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthz", "port": PORT}, "periodSeconds": 2}
    namespace = {"valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
    return {
        "name": NAME, "image": image, "imagePullPolicy": "Never",
        # No rotation: tests seal with the one key they know.
        "args": ["--key-renew-period=0", f"--listen-addr=:{PORT}",
                 "--listen-metrics-addr=:8081"],
        "env": [{"name": "POD_NAMESPACE", **namespace}],
        "ports": [{"name": "http", "containerPort": PORT}],
        "readinessProbe": probe,
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                      "limits": {"memory": "128Mi"}},
        "securityContext": {
            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }  # fmt: skip


def build_objects(image: str) -> list[dict[str, Any]]:
    """Its Service (one unnamed port, which ``http:<name>:`` proxies to) and Deployment."""
    key = node_config.REAL_NODE_LABEL
    uid = node_images.BINARY_UID
    spec = {
        "serviceAccountName": sealed_secrets.SERVICE_ACCOUNT,
        "nodeSelector": {key: "true"},
        "tolerations": [{"key": key, "operator": "Exists", "effect": "NoSchedule"}],
        "securityContext": {
            "runAsUser": uid, "runAsGroup": uid, "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [build_container(image)],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }  # fmt: skip
    meta = {"name": NAME, "namespace": sealed_secrets.NAMESPACE, "labels": LABELS}
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": meta,
        "spec": {"selector": LABELS, "ports": [{"port": PORT, "targetPort": PORT}]},
    }  # fmt: skip
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
        "spec": {
            "replicas": 1, "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS}, "spec": spec},
        },
    }  # fmt: skip
    return [service, deployment]
