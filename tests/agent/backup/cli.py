"""Run the backup commands in-process, as ``ragagent`` would, and read their JSON line."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import typer
from typer.testing import CliRunner

from ragagent import cli_backup


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    report: dict[str, Any]
    stdout: str


def build_app() -> typer.Typer:
    app = typer.Typer()
    cli_backup.register(app)
    return app


def run(*args: str) -> Outcome:
    result = CliRunner().invoke(build_app(), list(args))
    _drop_cli_log_handler()
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return Outcome(result.exit_code, report, result.stdout)


def _drop_cli_log_handler() -> None:
    """The command logged to CliRunner's stderr, which is closed now; stop using it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ragagent", False):
            root.removeHandler(handler)
