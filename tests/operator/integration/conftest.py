"""Fixtures: CRDs + cluster-mode RBAC installed from manifests/, the operator running under that
RBAC, and each test's namespace with the per-namespace Secret grant cluster mode needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.operator.integration.harness import (
    MAIN_PRIORITY,
    Operator,
    grant_secrets,
    install,
    start_operator,
    stop,
)
from tests.support import controlplane


@pytest.fixture(scope="session")
def installed(cluster: controlplane.ControlPlane) -> Path:
    """CRDs, RBAC and the peering object installed; returns the operator's token kubeconfig."""
    return install(cluster)


@pytest.fixture(scope="session")
def operator(cluster: controlplane.ControlPlane, installed: Path) -> Iterator[Operator]:
    running = start_operator(cluster, installed, "main", priority=MAIN_PRIORITY)
    yield running
    stop(running)


@pytest.fixture
def namespace(cluster: controlplane.ControlPlane, installed: Path, namespace: str) -> str:
    """The shared fresh namespace, where the cluster-mode operator may also use Secrets."""
    grant_secrets(cluster, namespace)
    return namespace
