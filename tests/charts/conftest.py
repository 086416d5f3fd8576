"""Fixtures shared by the chart tests that use the real control plane."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import controlplane


@pytest.fixture
def agents_namespace(cluster: controlplane.ControlPlane, namespace: str) -> Iterator[str]:
    """A second namespace, the one the operator watches in namespaced mode."""
    name = f"{namespace[:55]}-agents"
    cluster.kubectl("create", "namespace", name)
    cluster.wait_for_service_account("default", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")
