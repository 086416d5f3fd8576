"""Small units (STYLE rule 10): no function over 60 lines, no module over 400, under ROOTS.

A function counts from its first decorator to its last line, docstring and comments
included; a module counts every line. Add a directory to ROOTS to hold it to the same
limits.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Every directory of Python: the packages, all of the tests, the benchmarks and the scripts.
ROOTS = (
    "operator/ragagent_operator",
    "agent/ragagent",
    "tests",
    "bench",
    "hack",
)
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def _modules() -> list[Path]:
    return sorted(path for root in ROOTS for path in (REPO / root).rglob("*.py"))


def _long_functions(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{node.name} ({length} lines, from line {first})")
    return found


def test_the_roots_hold_python_modules() -> None:
    """A root that moved or was misspelt would make the checks below pass vacuously."""
    for root in ROOTS:
        assert list((REPO / root).rglob("*.py")), root


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(REPO)))
def test_module_and_its_functions_are_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{lines} lines: split the module"
    assert _long_functions(path) == [], "split these functions"
