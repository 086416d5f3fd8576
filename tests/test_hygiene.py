"""Repository hygiene that lint alone would not notice going away: secrets stay out of git,
and the two programs never print (their output goes through logging, typer.echo or rich)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).parent / "ruff"


@pytest.mark.parametrize("name", [".env", ".env.local", ".env.production", "agent/.env"])
def test_env_files_are_ignored_by_git(name: str) -> None:
    done = subprocess.run(["git", "check-ignore", "--no-index", "-q", name], cwd=REPO, check=False)
    assert done.returncode == 0, f"{name} is not ignored: a local secret could be committed"


def test_an_env_example_may_be_committed() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", ".env.example"], cwd=REPO, check=False
    )
    assert done.returncode == 1


@pytest.mark.parametrize(
    "path", ["agent/ragagent/cli_example.py", "operator/ragagent_operator/example.py"]
)
def test_ruff_refuses_print_in_the_programs(path: str) -> None:
    done = subprocess.run(
        [str(RUFF), "check", "--stdin-filename", path, "--output-format", "concise", "-"],
        cwd=REPO,
        input='print("a key:", "value")\n',
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "T201" in done.stdout
