"""The ``node`` marker of the real-node tests. Their fixtures (``real_node``,
``agent_image``) are in ``tests.support.fixtures_node``, shared with tests/e2e so that a
session runs one node."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "node: needs a real kubelet node (hack/build-node-tools), runs as root"
    )
