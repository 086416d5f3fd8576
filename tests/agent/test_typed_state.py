"""Starlette's untyped state bags stay behind the agent's typed seams.

``app.state`` is read and written only in ``ragagent/state.py`` (``AppState.of``), and
``request.state`` / ``websocket.state`` not at all (who called is ``api.caller.Caller``,
kept under one scope key): an attribute set on those bags by hand is a string key that
neither mypy nor a reader can follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "agent" / "ragagent"
# The one module that may touch app.state: it stores and reads the AppState there.
STATE_MODULE = PACKAGE / "state.py"
BAGS = frozenset({"app", "request", "websocket"})


def _bag_uses(source: str) -> list[str]:
    """Each ``<app|request|websocket>.state`` (also ``x.app.state``) and getattr of one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "state":
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name in BAGS:
                found.append(f"line {node.lineno}: {name}.state")
        if isinstance(node, ast.Call) and _is_getattr_state(node):
            found.append(f"line {node.lineno}: getattr(..., 'state')")
    return found


def _is_getattr_state(node: ast.Call) -> bool:
    if getattr(node.func, "id", "") != "getattr":
        return False
    return any(isinstance(arg, ast.Constant) and arg.value == "state" for arg in node.args)


@pytest.mark.parametrize(
    "path",
    sorted(path for path in PACKAGE.rglob("*.py") if path != STATE_MODULE),
    ids=lambda path: str(path.relative_to(PACKAGE)),
)
def test_no_module_but_state_touches_a_starlette_state_bag(path: Path) -> None:
    assert _bag_uses(path.read_text()) == [], "use AppState.of(app) or Caller.of(scope)"


def test_the_state_module_is_where_the_app_state_lives() -> None:
    """The exception above is not vacuous: state.py is the module that uses app.state."""
    assert _bag_uses(STATE_MODULE.read_text())


def test_the_check_sees_each_way_in() -> None:
    source = (
        "def f(request, websocket, app, breaker):\n"
        "    request.state.principal = 1\n"
        "    websocket.state.x\n"
        "    request.app.state.ragagent\n"
        "    getattr(app, 'state')\n"
        "    breaker.state\n"
    )
    assert sorted(_bag_uses(source)) == [
        "line 2: request.state",
        "line 3: websocket.state",
        "line 4: app.state",
        "line 5: getattr(..., 'state')",
    ]
