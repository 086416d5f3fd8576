"""Run the project's import contracts (pyproject.toml) on a copy of one package.

A test copies the package with ``copy_package``, checks that the copy passes,
then adds one import with ``lint_with_import`` and reads which contracts broke
with ``broken_contracts``. The copy gets only the contracts whose id starts with
the given prefix, so each package is checked against its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONFIG = ".importlinter"


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return "".join(f"\n    {item}" for item in value)
    return str(value)


def contracts_config(root_package: str, id_prefix: str) -> str:
    """The contracts whose id starts with ``id_prefix``, as an .importlinter file."""
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    lines = [
        "[importlinter]",
        f"root_package = {root_package}",
        "include_external_packages = True",
    ]
    for contract in settings["contracts"]:
        if not contract["id"].startswith(id_prefix):
            continue
        lines.append(f"[importlinter:contract:{contract['id']}]")
        lines += [f"{key} = {_ini_value(value)}" for key, value in contract.items() if key != "id"]
    return "\n".join(lines) + "\n"


def copy_package(package: Path, root: Path, *, id_prefix: str) -> Path:
    """Copy ``package`` into ``root`` with its contracts beside it; returns ``root``."""
    shutil.copytree(package, root / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / CONFIG).write_text(contracts_config(package.name, id_prefix))
    return root


def clean_copy(package: Path, root: Path, *, id_prefix: str) -> Path:
    """``copy_package``, then a check that the untouched copy passes its contracts."""
    copy_package(package, root, id_prefix=id_prefix)
    clean = lint(root)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    return root


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the copy in ``root``, without a cache."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / CONFIG), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def lint_with_import(root: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    """lint-imports on the copy with ``line`` appended to ``module`` (restored afterwards)."""
    path = root / module
    original = path.read_text()
    try:
        path.write_text(f"{original}\n{line}  # noqa\n")
        return lint(root)
    finally:
        path.write_text(original)


def broken_contracts(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines of the report that name a broken contract."""
    return [row for row in result.stdout.splitlines() if row.endswith(" BROKEN")]
