"""The real API server bounds spec.conversations.retention.days (server-side dry runs)."""

from __future__ import annotations

import json

import pytest

from tests.support import controlplane

pytestmark = pytest.mark.k8s


def dry_run(cluster: controlplane.ControlPlane, namespace: str, days: object) -> tuple[int, str]:
    body = {
        "apiVersion": "ragagent.dev/v1alpha1",
        "kind": "RagAgent",
        "metadata": {"name": "retention-check"},
        "spec": {"database": {"managed": {}}, "conversations": {"retention": {"days": days}}},
    }
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=json.dumps(body), check=False
    )
    return result.returncode, result.stderr


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (0, "should be greater than or equal to 1"),
        (36501, "should be less than or equal to 36500"),
        ("30", 'must be of type integer: "string"'),
    ],
)
def test_retention_out_of_bounds_is_refused(
    cluster: controlplane.ControlPlane,
    namespace: str,
    installed: object,
    days: object,
    message: str,
) -> None:
    returncode, stderr = dry_run(cluster, namespace, days)
    assert returncode != 0
    assert "spec.conversations.retention.days" in stderr
    assert message in stderr


@pytest.mark.parametrize("days", [1, 90, 36500])
def test_retention_within_bounds_is_accepted(
    cluster: controlplane.ControlPlane, namespace: str, installed: object, days: int
) -> None:
    returncode, stderr = dry_run(cluster, namespace, days)
    assert returncode == 0, stderr
