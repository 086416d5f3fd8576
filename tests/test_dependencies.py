"""Every runtime dependency in pyproject.toml is used: an unused one still enters every image,
its locks and its CVE feed (beautifulsoup4 and nh3 stayed after the HTML parser moved to the
standard library, and python-multipart with no form endpoint left)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import tomllib
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Used without an import in our code; each says by whom.
INDIRECT = {
    "redis": "limits loads it for its async Redis storage (RAGAGENT_RATE_LIMIT_STORAGE)",
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {
        normalise(re.split(r"[\[<>=~! ;]", spec, maxsplit=1)[0]) for spec in project["dependencies"]
    }


def imported_modules() -> set[str]:
    found: set[str] = set()
    for source in [*(REPO / "agent").rglob("*.py"), *(REPO / "operator").rglob("*.py")]:
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def used_distributions() -> set[str]:
    owners: dict[str, set[str]] = defaultdict(set)
    for module, dists in importlib.metadata.packages_distributions().items():
        owners[module].update(normalise(dist) for dist in dists)
    return {dist for module in imported_modules() for dist in owners.get(module, ())}


def test_every_runtime_dependency_is_imported_or_used_by_one() -> None:
    unused = declared() - used_distributions() - set(INDIRECT)
    assert not unused, f"declared in pyproject.toml but never imported: {sorted(unused)}"


def test_the_indirect_ones_are_still_declared() -> None:
    assert set(INDIRECT) <= declared()
