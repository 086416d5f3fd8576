"""RBAC is enforced: a ServiceAccount gets nothing until a Role grants it."""

from __future__ import annotations

import json

import pytest

from tests.support import controlplane

pytestmark = pytest.mark.k8s


def kubectl_as(cluster: controlplane.ControlPlane, kubeconfig: str, *args: str) -> tuple[int, str]:
    result = cluster.kubectl(f"--kubeconfig={kubeconfig}", *args, check=False)
    return result.returncode, result.stdout + result.stderr


def grant_pod_listing(cluster: controlplane.ControlPlane, namespace: str, subject: str) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "pod-reader", "namespace": namespace},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(role))
    cluster.kubectl(
        "create",
        "rolebinding",
        "pod-reader",
        "-n",
        namespace,
        "--role=pod-reader",
        f"--serviceaccount={namespace}:{subject}",
    )


def test_service_account_without_rights_is_denied(
    cluster: controlplane.ControlPlane, namespace: str
) -> None:
    cluster.kubectl("create", "serviceaccount", "nobody", "-n", namespace)
    kubeconfig = str(cluster.kubeconfig_for_token(cluster.token_for("nobody", namespace)))

    code, output = kubectl_as(cluster, kubeconfig, "get", "pods", "-n", namespace)

    assert code != 0
    assert f'User "system:serviceaccount:{namespace}:nobody" cannot list resource "pods"' in output


def test_service_account_is_allowed_once_a_role_grants_it(
    cluster: controlplane.ControlPlane, namespace: str
) -> None:
    cluster.kubectl("create", "serviceaccount", "reader", "-n", namespace)
    grant_pod_listing(cluster, namespace, "reader")
    kubeconfig = str(cluster.kubeconfig_for_token(cluster.token_for("reader", namespace)))

    code, output = kubectl_as(cluster, kubeconfig, "get", "pods", "-n", namespace)
    denied_code, _ = kubectl_as(cluster, kubeconfig, "get", "secrets", "-n", namespace)

    assert code == 0, output
    assert denied_code != 0
