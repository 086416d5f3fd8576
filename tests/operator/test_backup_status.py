"""backup_status turns backup Jobs into status.lastBackup and BackupReady (no cluster)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ragagent_operator import backup_status as bs

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
DAILY = "0 2 * * *"


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def succeeded_job(
    name: str, done: datetime, result: dict[str, Any] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": _ts(done - timedelta(minutes=2))}
    if result is not None:
        meta["annotations"] = {bs.RESULT_ANNOTATION: "log line\n" + json.dumps(result)}
    status = {
        "startTime": _ts(done - timedelta(minutes=1)),
        "completionTime": _ts(done),
        "succeeded": 1,
        "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": _ts(done)}],
    }
    return {"metadata": meta, "status": status}


def failed_job(name: str, done: datetime) -> dict[str, Any]:
    cond = {"type": "Failed", "status": "True", "lastTransitionTime": _ts(done)}
    return {
        "metadata": {"name": name, "creationTimestamp": _ts(done - timedelta(minutes=2))},
        "status": {
            "startTime": _ts(done - timedelta(minutes=1)),
            "failed": 6,
            "conditions": [cond],
        },
    }


def running_job(name: str, started: datetime) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": _ts(started)},
        "status": {"startTime": _ts(started), "active": 1},
    }


def test_recent_success_is_ready_and_reports_size() -> None:
    jobs = [succeeded_job("b-1", NOW - timedelta(hours=10), {"result": "succeeded", "size": 4096})]
    last, cond = bs.build_backup_status(jobs, schedule=DAILY, now=NOW)
    assert last == {"time": "2025-03-10T02:00:00Z", "result": "Succeeded", "size": 4096}
    assert cond["type"] == "BackupReady"
    assert (cond["status"], cond["reason"]) == ("True", "BackupSucceeded")


def test_latest_failure_wins_over_an_older_success() -> None:
    jobs = [
        failed_job("b-2", NOW - timedelta(hours=1)),
        succeeded_job("b-1", NOW - timedelta(hours=25)),
    ]
    last, cond = bs.build_backup_status(jobs, schedule=DAILY, now=NOW)
    assert last == {"time": _ts(NOW - timedelta(hours=1)), "result": "Failed"}
    assert (cond["status"], cond["reason"]) == ("False", "BackupFailed")
    assert "b-2" in cond["message"]


def test_failure_reason_from_termination_message_is_shown() -> None:
    jobs = [failed_job("b-3", NOW - timedelta(hours=1))]
    line = json.dumps({"result": "failed", "reason": "database unreachable"})
    _, cond = bs.build_backup_status(jobs, schedule=DAILY, now=NOW, messages={"b-3": line})
    assert "database unreachable" in cond["message"]


def test_success_older_than_two_intervals_is_stale() -> None:
    jobs = [succeeded_job("b-1", NOW - timedelta(days=2, hours=1))]
    last, cond = bs.build_backup_status(jobs, schedule=DAILY, now=NOW)
    assert last is not None
    assert last["result"] == "Succeeded"
    assert (cond["status"], cond["reason"]) == ("False", "BackupStale")


def test_success_within_two_intervals_is_not_stale() -> None:
    jobs = [succeeded_job("b-1", NOW - timedelta(hours=47))]
    _, cond = bs.build_backup_status(jobs, schedule=DAILY, now=NOW)
    assert cond["status"] == "True"


def test_hourly_schedule_makes_a_day_old_backup_stale() -> None:
    jobs = [succeeded_job("b-1", NOW - timedelta(hours=3))]
    _, cond = bs.build_backup_status(jobs, schedule="@hourly", now=NOW)
    assert cond["reason"] == "BackupStale"


def test_running_jobs_are_ignored() -> None:
    jobs = [
        running_job("b-2", NOW - timedelta(minutes=5)),
        succeeded_job("b-1", NOW - timedelta(hours=2)),
    ]
    last, cond = bs.build_backup_status(jobs, schedule=DAILY, now=NOW)
    assert last is not None
    assert last["time"] == _ts(NOW - timedelta(hours=2))
    assert cond["status"] == "True"


def test_no_backup_yet_is_unknown_until_overdue() -> None:
    last, cond = bs.build_backup_status([running_job("b-1", NOW)], schedule=DAILY, now=NOW)
    assert last is None
    assert (cond["status"], cond["reason"]) == ("Unknown", "NoBackupYet")
    _, overdue = bs.build_backup_status([], schedule=DAILY, now=NOW, since=NOW - timedelta(days=3))
    assert (overdue["status"], overdue["reason"]) == ("False", "NoBackupYet")


def test_invalid_schedule_is_reported_not_raised() -> None:
    _, cond = bs.build_backup_status([], schedule="every day", now=NOW)
    assert (cond["status"], cond["reason"]) == ("False", "InvalidSchedule")


def test_size_is_left_out_when_the_report_has_none() -> None:
    jobs = [succeeded_job("b-1", NOW - timedelta(hours=1), {"result": "succeeded", "size": "big"})]
    last, _ = bs.build_backup_status(jobs, schedule=DAILY, now=NOW)
    assert last is not None
    assert "size" not in last


def test_result_line_is_the_last_json_object_line() -> None:
    text = 'starting\n{"result": "succeeded", "size": 1}\nnot json'
    assert bs.parse_result_line(text) == {"result": "succeeded", "size": 1}
    assert bs.parse_result_line(None) == {}
    assert bs.parse_result_line("[1, 2]") == {}


def test_weekday_schedule_interval_spans_the_weekend() -> None:
    monday_morning = datetime(2025, 3, 10, 1, 0, tzinfo=UTC)
    assert bs.schedule_interval("0 2 * * 1-5", monday_morning) == timedelta(days=3)


def test_result_annotation_lives_under_our_api_group() -> None:
    assert bs.RESULT_ANNOTATION == "ragagent.dev/backup-result"
