"""The ``e2e`` marker (``make e2e``) and the journey's module-wide pieces: one namespace
and the operator running against the session's real node."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.operator.integration import harness
from tests.support import controlplane, images, node


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: the user journey on a real kubelet node (make e2e), runs as root"
    )


@pytest.fixture(scope="module")
def journey_namespace(
    cluster: controlplane.ControlPlane, real_node: node.RealNode
) -> Iterator[str]:
    name = f"e2e-{secrets.token_hex(3)}"
    cluster.kubectl("create", "namespace", name)
    cluster.wait_for_service_account("default", name)
    harness.grant_secrets(cluster, name)  # the host operator runs in cluster mode (manifests)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


@pytest.fixture(scope="module")
def host_operator(
    cluster: controlplane.ControlPlane,
    agent_image: images.ImageRefs,
    request: pytest.FixtureRequest,
) -> Iterator[harness.Operator]:
    """The operator as a host process under the RBAC of manifests/ (as the cluster tests
    run it), with the built agent image as its default."""
    kubeconfig = harness.install(cluster)
    env = {"RAGAGENT_OPERATOR_DEFAULT_IMAGE": agent_image.agent}
    tag = f"e2e-{request.module.__name__.rsplit('.', 1)[-1]}"  # a log file per module
    running = harness.start_operator(cluster, kubeconfig, tag, extra_env=env)
    yield running
    harness.stop(running)
