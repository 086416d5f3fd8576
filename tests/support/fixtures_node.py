"""The ``node`` marker and the fixtures for the real kubelet node, shared by tests/node
and tests/e2e.

One node per session: two nodes on one host would each run their own cluster DNS and,
with kube-proxy, program the same host's Service rules. The node gets every project image
(agent, operator, PostgreSQL) plus the pod sandbox, so the chart and the operator's
children run there too. Without the node tools or the images the tests skip loudly, and
fail under CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import controlplane, fixtures_cluster, images, node, node_images, tools


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "node: needs a real kubelet node (hack/build-node-tools), runs as root"
    )


@pytest.fixture(scope="session")
def agent_image() -> images.ImageRefs:
    return images.require_images()


def require_node_host() -> None:
    """Skips loudly (fails under CI) unless this is root with the node tools built."""
    if os.geteuid() != 0:
        fixtures_cluster.skip_loudly_or_fail("!!! real-node tests NOT RUN: they need root !!!")
    try:
        for name in node.NODE_TOOLS:
            tools.require_tool(tools.tools_bin(), name)
    except tools.ToolsMissingError as exc:
        fixtures_cluster.skip_loudly_or_fail(
            "!!! NODE TOOLS MISSING (did hack/build-node-tools fail?): "
            f"real-node tests NOT RUN !!! {exc}"
        )


def start_node(cluster: controlplane.ControlPlane, refs: images.ImageRefs) -> node.RealNode:
    """A started node with the sandbox and every project image."""
    require_node_host()
    sandbox = node_images.ensure_sandbox_image(refs.base)
    archives = [sandbox.archive, refs.agent_archive, refs.operator_archive, refs.postgres_archive]
    return node.RealNode(cluster, images=archives, sandbox_image=sandbox.ref).start()


@pytest.fixture(scope="session")
def real_node(
    cluster: controlplane.ControlPlane, agent_image: images.ImageRefs
) -> Iterator[node.RealNode]:
    real = start_node(cluster, agent_image)
    yield real
    real.stop()
