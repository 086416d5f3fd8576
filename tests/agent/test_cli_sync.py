"""``ragagent sync`` as the ingest Job runs it: one JSON line per source on stdout, the
compact result as the termination message, exit 0 whenever the sync ran (a source that
failed is reported, not an exit code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragagent.cli import app
from tests.agent.test_sync import KEYS, write_keys

pytestmark = pytest.mark.db


def invoke(pg_url: str, tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """Exit code, the JSON lines on stdout, and the termination message left behind."""
    message = tmp_path / "termination-log"
    env = {
        "DATABASE_URL": pg_url,
        "RAGAGENT_DATA_DIR": str(tmp_path / "data"),
        "RAGAGENT_TERMINATION_MESSAGE_PATH": str(message),
    }
    result = CliRunner().invoke(app, ["sync", *args], env=env)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines, message.read_text() if message.exists() else ""


def test_an_unsupported_key_is_reported_by_name_and_the_run_succeeds(
    pg_url: str, tmp_path: Path
) -> None:
    volume = write_keys(tmp_path / "kb", {**KEYS, "logo.png": b"\x89PNG"})
    code, lines, message = invoke(pg_url, tmp_path, f"configmap/kb={volume}", "--prune-unlisted")
    assert code == 0
    [line] = lines
    assert (line["source"], line["documents"], line["added"]) == ("configmap/kb", 3, 3)
    assert line["unsupported"] == ["logo.png"]
    reported = json.loads(message)
    assert reported["result"] == "succeeded"
    assert reported["sources"][0]["unsupported"] == ["logo.png"]


def test_a_source_that_cannot_be_synced_is_reported_and_the_others_synced(
    pg_url: str, tmp_path: Path
) -> None:
    volume = write_keys(tmp_path / "kb", dict(KEYS))
    code, lines, message = invoke(
        pg_url, tmp_path, f"configmap/gone={tmp_path / 'nowhere'}", f"configmap/kb={volume}"
    )
    assert code == 0
    assert [(line["error"] or {}).get("reason") for line in lines] == ["SourceUnreadable", None]
    assert lines[1]["documents"] == 3
    reported = json.loads(message)
    assert (reported["result"], reported["sources"][0]["error"]["reason"]) == (
        "succeeded",
        "SourceUnreadable",
    )


def test_a_malformed_source_argument_is_a_usage_error(pg_url: str, tmp_path: Path) -> None:
    code, lines, _ = invoke(pg_url, tmp_path, "configmap/kb")
    assert (code, lines) == (2, [])
