"""The plain YAML in manifests/ applies with ``kubectl apply -k`` on the real control plane.

``installed`` (conftest) already applies ``-k manifests/crd`` and ``-k manifests/rbac`` for real.
The operator set and the samples are applied with ``--dry-run=server``: the API server runs its
schemas, CEL rules and admission on them, but nothing is stored, so no Deployment without a
running process and no RagAgent for another test's operator is left behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.operator.integration.harness import REPO
from tests.support import controlplane

pytestmark = pytest.mark.k8s
MANIFESTS = REPO / "manifests"


def server_dry_run(cluster: controlplane.ControlPlane, *args: str) -> list[str]:
    """``kubectl apply --dry-run=server ARGS``; returns its "<kind>/<name> <verb>" lines."""
    done = cluster.kubectl("apply", "--dry-run=server", *args, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_operator_kustomization_applies_on_the_real_api_server(
    cluster: controlplane.ControlPlane, installed: Path
) -> None:
    lines = server_dry_run(cluster, "-k", str(MANIFESTS / "operator"))
    assert any(line.startswith("deployment.apps/ragagent-operator ") for line in lines), lines
    assert any(line.startswith("customresourcedefinition") for line in lines), lines


def test_sample_kustomization_applies_on_the_real_api_server(
    cluster: controlplane.ControlPlane, installed: Path, namespace: str
) -> None:
    samples = MANIFESTS / "samples"
    lines = server_dry_run(cluster, "-n", namespace, "-k", str(samples))
    listed = yaml.safe_load((samples / "kustomization.yaml").read_text())["resources"]
    names = [yaml.safe_load((samples / path).read_text())["metadata"]["name"] for path in listed]
    assert sorted(line.split()[0] for line in lines) == sorted(
        f"ragagent.ragagent.dev/{name}" for name in names
    ), lines
