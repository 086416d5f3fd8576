"""``build_*`` names a pure builder (STYLE rule 8): no client, no I/O, nothing awaited.

Read from the source, in both packages: a function or method named ``build_*`` may not be
async, await, or call what reaches outside the process (files, sockets, subprocesses,
HTTP, the database, the environment) or a function named for calling out (``ensure_*``,
``create_*``, ``load_*``, ...) from any module, and neither may the functions of its own
module that it calls. A function that does any of that is named for it (``ensure_*``, ``load_*``,
``find_*``, ...). The clock is not counted: a builder may bound its own work by a deadline.
Helpers in tests, bench and hack are not held to it: there "build" also means building an
image or a chart.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("agent/ragagent", "operator/ragagent_operator")
# Modules whose every call reaches outside the process.
IO_MODULES = frozenset({"httpx", "os", "psycopg", "shutil", "socket", "ssl", "subprocess"})
# Methods that read or write files, the network or the database, whatever their object.
IO_METHODS = frozenset(
    {
        "connect", "execute", "executemany", "exists", "fetch", "fetchall", "fetchone",
        "glob", "is_dir", "is_file", "iterdir", "load_cert_chain", "load_verify_locations",
        "mkdir", "open", "read_bytes", "read_text", "rglob", "stat", "unlink", "write_bytes",
        "write_text",
    }
)  # fmt: skip
IO_BUILTINS = frozenset({"input", "open", "print"})
# Functions named for calling out (STYLE rule 8), in any module: a builder calls none of them.
CALLING_OUT = ("create_", "delete_", "ensure_", "fetch_", "insert_", "load_", "patch_", "read_")
# Parts of those modules that only compute: libpq's conninfo strings, SQL composed with
# quoted identifiers and literals, path names.
PURE_MODULES = ("psycopg.conninfo", "psycopg.sql", "os.path")
# Named load_* but parsers of bytes already in memory: cryptography's PEM readers.
PURE_CALLS = frozenset({"load_pem_private_key", "load_pem_x509_certificate"})


def _imported_modules(tree: ast.Module) -> dict[str, str]:
    """Each name a module imports, as the dotted module it stands for or comes from."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:  # `import a.b` binds a; `import a.b as c` binds a.b
                top = alias.name.split(".")[0]
                found[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:  # `from a import b` binds a.b (a submodule or a name)
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def _reaches_out(dotted: str) -> bool:
    """Whether a call of this dotted name (module path first) is one of the I/O modules'."""
    return dotted.split(".")[0] in IO_MODULES and not dotted.startswith(PURE_MODULES)


def _io_in(function: ast.AST, imports: dict[str, str]) -> Iterator[str]:
    """What in this function's own body reaches outside the process."""
    if isinstance(function, ast.AsyncFunctionDef):
        yield "async def"
    for node in ast.walk(function):
        if isinstance(node, ast.Await):
            yield "await"
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called.startswith(CALLING_OUT) and called not in PURE_CALLS:
            yield f"{called}()"
        if isinstance(func, ast.Name) and func.id in IO_BUILTINS:
            yield f"{func.id}()"
        if isinstance(func, ast.Name) and _reaches_out(imports.get(func.id, "")):
            yield f"{func.id}() from {imports[func.id]}"
        if isinstance(func, ast.Attribute):
            parts = [func.attr]
            root = func.value
            while isinstance(root, ast.Attribute):
                parts.insert(0, root.attr)
                root = root.value
            if func.attr in IO_METHODS:
                yield f".{func.attr}()"
            elif isinstance(root, ast.Name) and root.id in imports:
                dotted = ".".join([imports[root.id], *parts])
                if _reaches_out(dotted):
                    yield f"{dotted}()"


def _called_names(function: ast.AST) -> set[str]:
    return {
        node.func.id
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


def _impure_builders(path: Path) -> list[str]:
    """Each ``build_*`` here that does I/O, itself or through a function of this module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    imports = _imported_modules(tree)
    local = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not node.name.startswith("build_"):
            continue
        seen: set[str] = set()
        todo: list[ast.AST] = [node]
        reasons: set[str] = set()
        while todo:
            current = todo.pop()
            reasons |= set(_io_in(current, imports))
            for name in _called_names(current) & local.keys() - seen:
                seen.add(name)
                todo.append(local[name])
        if reasons:
            found.append(f"{node.name} (line {node.lineno}): {', '.join(sorted(reasons))}")
    return found


def _modules() -> list[Path]:
    return sorted(path for root in PACKAGES for path in (REPO / root).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(REPO)))
def test_build_functions_do_no_io(path: Path) -> None:
    assert _impure_builders(path) == [], "rename these (ensure_*, load_*, find_*) or split them"


def test_the_check_sees_io(tmp_path: Path) -> None:
    """Each kind of I/O the check knows is found, directly and through a module's helper."""
    module = tmp_path / "sample.py"
    module.write_text(
        "import ssl\nfrom pathlib import Path\n\n"
        "def build_a(p):\n    return Path(p).is_file()\n\n"
        "def build_b():\n    return ssl.create_default_context()\n\n"
        "async def build_c(client):\n    return await client.get()\n\n"
        "def build_f(api, body):\n    return api.ensure_child(body)\n\n"
        "def _read(p):\n    return open(p).read()\n\n"
        "def build_d(p):\n    return _read(p)\n\n"
        "def build_e(items):\n    return sorted(items)\n"
    )
    found = _impure_builders(module)
    names = [row.split(" ")[0] for row in found]
    assert names == ["build_a", "build_b", "build_c", "build_f", "build_d"]
    assert "ssl.create_default_context()" in found[1]
    assert "ensure_child()" in found[3]
    assert "open()" in found[4]
