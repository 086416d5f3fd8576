"""Markers that helper modules use at import are registered before any directory's conftest:
in pyproject.toml, or by the root conftest's plugins (tests/support).

A conftest registers its markers in pytest_configure, which runs only once the conftest has
been imported; a helper module that the conftest imports, and that builds marks at import
(``pytest.mark.e2e`` in tests.e2e.steps), runs first. Under ``--strict-markers`` that failed
the collection of its directory whenever pytest reached it lazily, as in a whole-suite run.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# pytest's own marks and those its plugins register before any conftest loads.
BUILT_IN = {"parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings"}
BUILT_IN |= {"timeout", "asyncio", "anyio", "xdist_group"}
MARK = re.compile(r"pytest\.mark\.(\w+)")
REGISTERS = re.compile(r'addinivalue_line\(\s*"markers",\s*"(\w+):')


def registered() -> set[str]:
    ini = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    names = {line.split(":", 1)[0].strip() for line in ini["markers"]}
    # The root conftest loads these plugins first, so their pytest_configure runs first too.
    for path in (REPO / "tests" / "support").glob("*.py"):
        names |= set(REGISTERS.findall(path.read_text()))
    return names


def helper_marks() -> dict[str, set[str]]:
    """Marks named in tests/ modules that are neither test modules nor conftests."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.name.startswith("test_") or path.name == "conftest.py":
            continue
        names = set(MARK.findall(path.read_text()))
        if names:
            found[str(path.relative_to(REPO))] = names
    return found


def test_marks_built_by_helper_modules_are_registered_before_any_conftest() -> None:
    known = registered() | BUILT_IN
    unknown = {path: names - known for path, names in helper_marks().items() if names - known}
    assert unknown == {}
    assert "tests/e2e/steps.py" in helper_marks()  # the case that failed the collection
