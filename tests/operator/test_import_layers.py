"""The operator's import contracts (pyproject.toml, run by `make lint`) catch what they forbid.

Each case copies the package, adds one forbidden import to the copy and runs
lint-imports with the project's own operator contracts on it: the copy as it is
passes, and the copy with the import fails, naming the broken contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "operator" / "ragagent_operator"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return "".join(f"\n    {item}" for item in value)
    return str(value)


def _operator_config() -> str:
    """The operator's contracts from pyproject.toml, as an .importlinter file for the copy."""
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    lines = [
        "[importlinter]",
        "root_package = ragagent_operator",
        "include_external_packages = True",
    ]
    for contract in settings["contracts"]:
        if not contract["id"].startswith("operator-"):
            continue
        lines.append(f"[importlinter:contract:{contract['id']}]")
        lines += [f"{key} = {_ini_value(value)}" for key, value in contract.items() if key != "id"]
    return "\n".join(lines) + "\n"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / ".importlinter"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package with the operator's contracts beside it; it passes them."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(
        PACKAGE, root / "ragagent_operator", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / ".importlinter").write_text(_operator_config())
    clean = _lint(root)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    return root


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("render/common.py", "from ragagent_operator import steps", "Operator: main -> reconcile"),
        ("k8s.py", "from ragagent_operator import context", "Operator: main -> reconcile"),
        ("render/common.py", "from ragagent_operator import metrics", "render is pure"),
        ("steps/backup.py", "import httpx", "only k8s imports httpx"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    copy: Path, module: str, line: str, contract: str
) -> None:
    path = copy / "ragagent_operator" / module
    original = path.read_text()
    try:
        path.write_text(f"{original}\n{line}  # noqa\n")
        result = _lint(copy)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert any(contract in row for row in broken), result.stdout
