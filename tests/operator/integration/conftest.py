"""Fixtures: CRDs + RBAC installed from manifests/, and the operator running under that RBAC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.operator.integration.harness import (
    MAIN_PRIORITY,
    REPO,
    Operator,
    start_operator,
    stop,
)
from tests.support import controlplane


@pytest.fixture(scope="session")
def installed(cluster: controlplane.ControlPlane) -> Path:
    """CRDs, RBAC and the peering object installed; returns the operator's token kubeconfig."""
    cluster.kubectl("apply", "-k", str(REPO / "manifests" / "crd"))
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "crd/ragagents.ragagent.dev",
        "crd/clusterkopfpeerings.kopf.dev",
    )
    cluster.kubectl("apply", "-k", str(REPO / "manifests" / "rbac"))
    cluster.kubectl("apply", "-f", str(REPO / "manifests" / "operator" / "peering.yaml"))
    token = cluster.token_for("ragagent-operator", "ragagent-system", duration="10h")
    return cluster.kubeconfig_for_token(token, name="ragagent-operator")


@pytest.fixture(scope="session")
def operator(cluster: controlplane.ControlPlane, installed: Path) -> Iterator[Operator]:
    running = start_operator(cluster, installed, "main", priority=MAIN_PRIORITY)
    yield running
    stop(running)
