"""Controllers really run: Deployments become Available on the fake node, and GC works."""

from __future__ import annotations

from typing import Any, cast

import pytest
from kubernetes import client as k8s

from tests.support import controlplane
from tests.support.processes import wait_until

pytestmark = pytest.mark.k8s


def build_deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    container = {"name": "app", "image": "registry.invalid/app:1"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def create_deployment(apps: k8s.AppsV1Api, namespace: str, manifest: dict[str, Any]) -> None:
    # The client sends plain dicts unchanged; the cast only satisfies its V1Deployment hint.
    apps.create_namespaced_deployment(namespace, cast(k8s.V1Deployment, manifest))


def available_replicas(apps: k8s.AppsV1Api, name: str, namespace: str) -> int:
    status = apps.read_namespaced_deployment_status(name, namespace).status
    return int(status.available_replicas or 0) if status else 0


def test_deployment_becomes_available_with_running_fake_pods(
    k8s_client: k8s.ApiClient, namespace: str
) -> None:
    apps, core = k8s.AppsV1Api(k8s_client), k8s.CoreV1Api(k8s_client)
    create_deployment(apps, namespace, build_deployment("web", replicas=2))

    wait_until(
        "2 available replicas", lambda: available_replicas(apps, "web", namespace) == 2, timeout=60
    )

    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert [pod.status.phase for pod in pods if pod.status] == ["Running", "Running"]
    assert {pod.spec.node_name for pod in pods if pod.spec} == {controlplane.FAKE_NODE}


def test_deleting_an_owner_garbage_collects_its_dependants(
    k8s_client: k8s.ApiClient, namespace: str
) -> None:
    apps, core = k8s.AppsV1Api(k8s_client), k8s.CoreV1Api(k8s_client)
    create_deployment(apps, namespace, build_deployment("doomed", replicas=1))
    wait_until("a pod", lambda: len(core.list_namespaced_pod(namespace).items) == 1, timeout=60)

    body = k8s.V1DeleteOptions(propagation_policy="Background")
    apps.delete_namespaced_deployment("doomed", namespace, body=body)

    def all_gone() -> bool:
        replica_sets = apps.list_namespaced_replica_set(namespace).items
        return not replica_sets and not core.list_namespaced_pod(namespace).items

    wait_until("ReplicaSet and pods collected", all_gone, timeout=60)
