"""Fixtures: CRDs + RBAC installed from manifests/, and the operator running under that RBAC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.operator.integration.harness import (
    MAIN_PRIORITY,
    Operator,
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
