#!/usr/bin/env python3
"""Generates a chart's values.schema.json and README.md from the comments in its values.yaml.

Comment format, written just above each key:

    # -- Description, possibly over
    # several lines.
    # @schema {"minimum": 1}
    key: value

The JSON type comes from the default value; ``@schema`` adds constraints. A non-empty mapping
becomes an object whose keys are all documented and no others are allowed; an empty mapping, or
one marked ``"x-freeform": true``, is a free-form object. A key without a ``# --`` description
is an error, which is how "every value is documented" is enforced.

Usage: hack/gen-chart-docs.py [--check] [CHART_DIR]   (default: charts/ragagent-operator)
With --check nothing is written; the exit code is 1 when a generated file is out of date.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHART = REPO_ROOT / "charts" / "ragagent-operator"
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?:\s|$)")
FREEFORM = "x-freeform"
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


class DocError(ValueError):
    """values.yaml breaks the comment format; the message names the key and line."""


@dataclasses.dataclass
class ValueDoc:
    """One documented key: its dotted path, description and extra schema constraints."""

    path: tuple[str, ...]
    description: str
    schema: dict[str, Any]
    line: int


def parse_docs(text: str) -> dict[tuple[str, ...], ValueDoc]:
    """Maps each key path to its documentation, walking the indentation of values.yaml."""
    docs: dict[tuple[str, ...], ValueDoc] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped)
            continue
        match = KEY_LINE.match(line)
        if not match:
            if not stripped:
                pending = []
            continue
        indent = len(match["indent"])
        stack = [(i, k) for i, k in stack if i < indent] + [(indent, match["key"])]
        path = tuple(k for _, k in stack)
        docs[path] = _doc_from_comments(path, pending, number)
        pending = []
    return docs


def _doc_from_comments(path: tuple[str, ...], comments: list[str], line: int) -> ValueDoc:
    """Reads the ``# --`` description and ``# @schema`` lines just above a key."""
    description: list[str] = []
    schema: dict[str, Any] = {}
    started = False
    for comment in comments:
        body = comment.lstrip("#").strip()
        if body.startswith("-- "):
            started, description = True, [body[3:]]
        elif body.startswith("@schema "):
            schema.update(_load_schema(body[len("@schema ") :], path, line))
        elif started:
            description.append(body)
    return ValueDoc(path, " ".join(description).strip(), schema, line)


def _load_schema(raw: str, path: tuple[str, ...], line: int) -> dict[str, Any]:
    try:
        loaded = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DocError(f"line {line} ({'.'.join(path)}): bad @schema JSON: {exc}") from exc
    if not isinstance(loaded, dict):
        raise DocError(f"line {line} ({'.'.join(path)}): @schema must be a JSON object")
    return loaded


def json_type(value: Any) -> str:
    """The JSON-schema type name of a YAML default value."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return "null"


def build_schema(values: Any, docs: dict[tuple[str, ...], ValueDoc]) -> dict[str, Any]:
    """The whole values.schema.json: a strict object of every documented top-level key."""
    root = _object_schema((), values, docs)
    return {"$schema": "https://json-schema.org/draft-07/schema#", "title": "Values", **root}


def _object_schema(
    path: tuple[str, ...], mapping: dict[str, Any], docs: dict[tuple[str, ...], ValueDoc]
) -> dict[str, Any]:
    properties = {key: _key_schema((*path, key), value, docs) for key, value in mapping.items()}
    return {"type": "object", "additionalProperties": False, "properties": properties}


def _key_schema(
    path: tuple[str, ...], value: Any, docs: dict[tuple[str, ...], ValueDoc]
) -> dict[str, Any]:
    doc = docs.get(path)
    is_section = isinstance(value, dict) and value and not (doc and doc.schema.get(FREEFORM))
    if is_section:
        section = _object_schema(path, value, docs)
        return {**section, "description": doc.description} if doc and doc.description else section
    if doc is None or not doc.description:
        raise DocError(f"{'.'.join(path)} has no '# --' description in values.yaml")
    extra = {k: v for k, v in doc.schema.items() if k != FREEFORM}
    return {"type": json_type(value), "description": doc.description, **extra}


def build_readme(chart: dict[str, Any], values: Any, docs: dict[tuple[str, ...], ValueDoc]) -> str:
    """The chart README: the hand-written intro (README.intro.md) plus the values table."""
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    rows += [_readme_row(path, value, docs[path]) for path, value in _leaves((), values, docs)]
    header = f"# {chart['name']}\n\n{chart.get('description', '')}\n\n"
    header += f"Chart version `{chart['version']}`, app version `{chart.get('appVersion', '')}`.\n"
    return header + "\n## Values\n\n" + "\n".join(rows) + "\n"


def _leaves(
    path: tuple[str, ...], value: Any, docs: dict[tuple[str, ...], ValueDoc]
) -> list[tuple[tuple[str, ...], Any]]:
    doc = docs.get(path)
    if path and not (isinstance(value, dict) and value and not (doc and doc.schema.get(FREEFORM))):
        return [(path, value)]
    leaves: list[tuple[tuple[str, ...], Any]] = []
    for key, child in value.items():
        leaves += _leaves((*path, key), child, docs)
    return leaves


def _readme_row(path: tuple[str, ...], value: Any, doc: ValueDoc) -> str:
    default = json.dumps(value, separators=(", ", ": ")).replace("|", "\\|")
    description = doc.description.replace("|", "\\|")
    return f"| `{'.'.join(path)}` | {json_type(value)} | `{default}` | {description} |"


def render(chart_dir: Path) -> dict[Path, str]:
    """Generated file path -> its content, for the chart in ``chart_dir``."""
    text = (chart_dir / "values.yaml").read_text()
    values = yaml.safe_load(text)
    docs = parse_docs(text)
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    intro_path = chart_dir / "README.intro.md"
    intro = intro_path.read_text() if intro_path.exists() else ""
    schema = json.dumps(build_schema(values, docs), indent=2) + "\n"
    readme = build_readme(chart, values, docs)
    readme = readme.replace("\n## Values\n", f"\n{intro}\n## Values\n", 1) if intro else readme
    return {chart_dir / "values.schema.json": schema, chart_dir / "README.md": readme}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file is out of date")
    parser.add_argument("chart", nargs="?", type=Path, default=DEFAULT_CHART)
    args = parser.parse_args(argv)
    stale = []
    for path, content in render(args.chart).items():
        if path.exists() and path.read_text() == content:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(content)
    if args.check and stale:
        names = ", ".join(str(p) for p in stale)
        sys.stderr.write(f"out of date: {names}; run hack/gen-chart-docs.py\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
