"""The runner's kubelet rules that need no podman: the termination message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.podrun import model, runner


def plan_with(tmp_path: Path, message: bytes, policy: str) -> model.RunPlan:
    log = tmp_path / "termination-log"
    log.write_bytes(message)
    return model.RunPlan(
        name="p",
        image="img",
        options=(),
        command=(),
        env={},
        layout=model.HostLayout(),
        ports={},
        termination_log=log,
        termination_policy=policy,
        restart_policy="Never",
        run_as_user=None,
        run_as_non_root=False,
    )


def test_the_file_is_the_message_and_is_cut_at_4096_bytes(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, b"x" * 5000, "File")
    assert runner.termination_message(plan, 1, "logs") == "x" * 4096


def test_an_empty_file_on_failure_falls_back_to_the_last_80_log_lines(tmp_path: Path) -> None:
    logs = "\n".join(f"line {n}" for n in range(100))
    plan = plan_with(tmp_path, b"", "FallbackToLogsOnError")
    message = runner.termination_message(plan, 1, logs)
    assert message.splitlines() == [f"line {n}" for n in range(20, 100)]


@pytest.mark.parametrize(("policy", "exit_code"), [("FallbackToLogsOnError", 0), ("File", 1)])
def test_no_fallback_on_success_or_with_the_file_policy(
    tmp_path: Path, policy: str, exit_code: int
) -> None:
    plan = plan_with(tmp_path, b"", policy)
    assert runner.termination_message(plan, exit_code, "some log") == ""
