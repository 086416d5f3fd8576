"""pytest fixtures for the real local control plane (``@pytest.mark.k8s`` tests).

- ``cluster``: one ControlPlane for the whole session. When the tools are missing it skips
  loudly, or fails when ``CI`` or ``RAGAGENT_REQUIRE_K8S`` is set.
- ``namespace``: a fresh namespace per test, deleted afterwards without waiting.
- ``k8s_client``: a ``kubernetes.client.ApiClient`` authenticated as cluster admin.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from typing import NoReturn

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.support import controlplane, tools

NAMESPACE_WAIT_SECONDS = 30.0


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[controlplane.ControlPlane]:
    """A running control plane; stopped at session end, interrupt or failure. Pods can reach
    its API server only when the session runs real-node tests (``node`` marker)."""
    nodes = any(item.get_closest_marker("node") for item in request.session.items)
    try:
        plane = controlplane.ControlPlane(pod_reachable=nodes)
    except tools.ToolsMissingError as exc:
        skip_loudly_or_fail(f"!!! LOCAL KUBERNETES TOOLS MISSING: k8s tests NOT RUN !!! {exc}")
    with plane:
        yield plane


def skip_loudly_or_fail(reason: str) -> NoReturn:
    """Skips with ``reason``; in CI (or with RAGAGENT_REQUIRE_K8S) a skipped proof would be a
    silent hole, so there it fails instead."""
    if os.environ.get("CI") or os.environ.get("RAGAGENT_REQUIRE_K8S"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def k8s_client(cluster: controlplane.ControlPlane) -> Iterator[k8s.ApiClient]:
    # The kubernetes package has no type hints for its config loaders.
    api: k8s.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(cluster.kubeconfig_path)
    )
    yield api
    api.close()  # type: ignore[no-untyped-call]


def namespace_name(test_name: str) -> str:
    """A valid, unique namespace name derived from the test's name (at most 63 characters)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:48].strip("-")
    return f"t-{slug}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(cluster: controlplane.ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new namespace whose ``default`` ServiceAccount exists, so pods can be created at once."""
    name = namespace_name(request.node.name)
    cluster.kubectl("create", "namespace", name)
    cluster.wait_for_service_account("default", name, timeout=NAMESPACE_WAIT_SECONDS)
    yield name
    # Not waiting keeps tests fast; the namespace controller finishes the cleanup.
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")
