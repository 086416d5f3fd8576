"""The operator's import contracts (pyproject.toml, run by `make lint`) catch what they forbid.

Each case adds one forbidden import to a copy of the package and runs lint-imports with
the project's own operator contracts on it (tests.support.import_layers): the copy as it
is passes, and the copy with the import fails, naming the broken contract.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import import_layers

PACKAGE = import_layers.REPO / "operator" / "ragagent_operator"


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package with the operator's contracts beside it; it passes them."""
    return import_layers.clean_copy(
        PACKAGE, tmp_path_factory.mktemp("layers"), id_prefix="operator-"
    )


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("render/common.py", "from ragagent_operator import steps", "Operator: main -> reconcile"),
        ("k8s/__init__.py", "from ragagent_operator import context", "Operator: main -> reconcile"),
        (
            "k8s/connection.py",
            "from ragagent_operator import render",
            "Operator: main -> reconcile",
        ),
        ("render/common.py", "from ragagent_operator import metrics", "render is pure"),
        ("steps/backup.py", "import httpx", "only k8s imports httpx"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    copy: Path, module: str, line: str, contract: str
) -> None:
    result = import_layers.lint_with_import(copy, f"ragagent_operator/{module}", line)
    assert result.returncode != 0, result.stdout
    # Not broken_contracts: a contract with ignored imports reports "BROKEN (1 ignored import)".
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert any(contract in row for row in broken), result.stdout
