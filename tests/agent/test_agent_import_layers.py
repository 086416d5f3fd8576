"""The agent's layer contract (pyproject.toml, run by `make lint`) refuses upward imports.

Each case adds to a copy of the package one of the upward imports the layers
once had, and expects the agent's contract to break; the copy as it is passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import import_layers

PACKAGE = import_layers.REPO / "agent" / "ragagent"
LAYERS = "Agent: cli -> main -> api"


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the agent package with its contracts beside it; it passes them."""
    return import_layers.clean_copy(PACKAGE, tmp_path_factory.mktemp("layers"), id_prefix="agent-")


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("ragagent/core/server.py", "from ragagent import main"),
        ("ragagent/core/security.py", "from ragagent.db import apikeys"),
        ("ragagent/db/documents.py", "from ragagent.rag import types"),
        ("ragagent/services/chat.py", "from ragagent.api import deps"),
        ("ragagent/rag/samples.py", "from ragagent import state"),
    ],
)
def test_an_upward_import_breaks_the_agent_layers(copy: Path, module: str, line: str) -> None:
    result = import_layers.lint_with_import(copy, module, line)
    assert result.returncode != 0, result.stdout
    assert any(LAYERS in row for row in import_layers.broken_contracts(result)), result.stdout
