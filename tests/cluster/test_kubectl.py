"""kubectl built from the same tree works against the test control plane."""

from __future__ import annotations

import pytest

from tests.support import controlplane

pytestmark = pytest.mark.k8s

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: proof
"""


def test_kubectl_apply_and_get(cluster: controlplane.ControlPlane, namespace: str) -> None:
    applied = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=CONFIGMAP)
    got = cluster.kubectl(
        "get", "configmap", "settings", "-n", namespace, "-o", "jsonpath={.data.mode}"
    )

    assert applied.stdout.strip() == "configmap/settings created"
    assert got.stdout == "proof"


def test_kubectl_apply_twice_is_unchanged(
    cluster: controlplane.ControlPlane, namespace: str
) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=CONFIGMAP)

    again = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=CONFIGMAP)

    assert again.stdout.strip() == "configmap/settings unchanged"


def test_kubectl_explain_knows_builtin_and_custom_resources(
    cluster: controlplane.ControlPlane,
) -> None:
    builtin = cluster.kubectl("explain", "deployment.spec.replicas")
    custom = cluster.kubectl("explain", "sealedsecrets.spec")

    assert "FIELD: replicas <integer>" in builtin.stdout
    assert "encryptedData" in custom.stdout
