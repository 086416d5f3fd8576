"""The control plane itself: honest versions, metrics, token kubeconfigs, system controllers."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.support import controlplane

pytestmark = pytest.mark.k8s

K8S_VERSION = re.compile(r"v1\.36\.\d+")


def test_server_reports_an_honest_version(cluster: controlplane.ControlPlane) -> None:
    version = json.loads(cluster.apiserver_get("/version"))

    assert K8S_VERSION.fullmatch(version["gitVersion"])
    assert (version["major"], version["minor"]) == ("1", "36")


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("helm", ("version", "--short"), r"v4\.\d+\.\d+"),
        ("kubeseal", ("--version",), r"kubeseal version: v0\.(3[89]|[4-9]\d)\.\d+"),
        ("etcd", ("--version",), r"etcd Version: 3\.6\.\d+"),
        ("kwok", ("--version",), r"kwok version v0\.8\.0"),
    ],
)
def test_tools_report_their_versions(
    cluster: controlplane.ControlPlane, tool: str, args: tuple[str, ...], expected: str
) -> None:
    output = subprocess.run(
        [str(cluster.tool(tool)), *args], capture_output=True, text=True, check=True
    ).stdout

    assert re.search(expected, output), output


def test_apiserver_metrics_count_write_requests(
    cluster: controlplane.ControlPlane, namespace: str
) -> None:
    cluster.kubectl("create", "configmap", "counted", "-n", namespace)

    metrics = cluster.apiserver_metrics()

    assert re.search(
        r'apiserver_request_total\{[^}]*resource="configmaps"[^}]*verb="POST"', metrics
    )


def test_new_namespaces_get_a_default_service_account_with_a_working_token(
    cluster: controlplane.ControlPlane, namespace: str
) -> None:
    token = cluster.token_for("default", namespace)
    kubeconfig = cluster.kubeconfig_for_token(token)

    who = cluster.kubectl(
        f"--kubeconfig={kubeconfig}", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"
    )

    assert who.stdout == f"system:serviceaccount:{namespace}:default"
