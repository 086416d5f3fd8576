"""Schemathesis (v4 CLI) against the running agent's OpenAPI, authenticated.

The real app is served by uvicorn on a free port (lifespan on, real
PostgreSQL); schemathesis generates cases for every operation and checks that
no response is a 5xx and that status codes, content types, headers and bodies
conform to the published schema. The run's figures are printed for the report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ragagent.main import create_app
from tests.agent.hardening.harness import build_settings, build_token
from tests.support.fake_openai import ServerThread

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
MAX_EXAMPLES = 20


def run_schemathesis(base: str, token: str, report: Path) -> subprocess.CompletedProcess[str]:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    command = [
        str(schemathesis), "run", f"{base}/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS,
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", "20261125",
        "--workers", "1",
        "--phases", "examples,coverage,fuzzing",
        "--request-timeout", "30",
        "--report", "ndjson",
        "--report-ndjson-path", str(report),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)


def summarise(report: Path) -> tuple[int, int, int]:
    """(test cases run, checks made, failed checks) from schemathesis' ndjson events."""
    cases = checks = failures = 0
    for line in report.read_text().splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        if finished is None:
            continue
        recorder = finished.get("recorder", {})
        cases += len(recorder.get("cases", {}))
        for results in recorder.get("checks", {}).values():
            checks += len(results)
            failures += sum(1 for r in results if str(r.get("status")).lower() == "failure")
    return cases, checks, failures


def test_schemathesis_finds_no_server_errors_or_schema_violations(
    db_url: str, data_dir: str, tmp_path: Path
) -> None:
    settings = build_settings(
        db_url,
        data_dir,
        rate_limit_requests_per_minute=100_000,
        rate_limit_burst=0,
        preauth_requests_per_minute=100_000,
    )
    token = build_token(sub="fuzzer", exp_in=3600)
    report = tmp_path / "schemathesis.ndjson"
    with ServerThread(create_app(settings), lifespan="on") as server:
        result = run_schemathesis(server.url, token, report)
    cases, checks, failures = summarise(report)
    print(
        f"schemathesis: {cases} cases, {checks} checks, {failures} failed, exit {result.returncode}"
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert cases > 100
    assert checks >= cases
    assert failures == 0
