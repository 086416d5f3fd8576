"""Interpret backup Jobs as ``status.lastBackup`` and the ``BackupReady`` condition.

Pure: it takes batch/v1 Job dicts exactly as the API server returns them and
the CronJob's schedule, and returns plain dicts ready for a status patch. The
reconcile code lists the CronJob's Jobs and calls these functions; nothing here
talks to the API server.

A backup Job's result line is the final JSON line ``ragagent backup`` prints
(``{"result": "succeeded", "size": ..., ...}``) and also leaves as its
container's termination message. The operator reads that message from the
Job's pod (``build_termination_message``) and passes it in ``messages``; the
Job annotation :data:`RESULT_ANNOTATION`, when present, wins. Without either,
the Job status alone decides success or failure and ``size`` is left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

from ragagent_operator import conditions, constants

RESULT_ANNOTATION = f"{constants.GROUP}/backup-result"
# A backup older than this many schedule intervals counts as stale.
STALE_INTERVALS = 2


@dataclass(frozen=True)
class FinishedJob:
    """One finished backup Job: when it ended, how, and what it reported."""

    name: str
    time: datetime
    succeeded: bool
    report: Mapping[str, Any]


def parse_time(value: str | None) -> datetime | None:
    """RFC 3339 timestamps as Kubernetes writes them; None when absent or malformed."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_result_line(text: str | None) -> dict[str, Any]:
    """The last JSON object line in ``text`` (a log tail or termination message), or {}."""
    for line in reversed((text or "").strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def build_termination_message(pods: Iterable[Mapping[str, Any]]) -> str | None:
    """The termination message of the newest pod's terminated container, or None.

    A Job may have run several pods (retries); the newest one decides its outcome.
    """
    newest = sorted(pods, key=lambda pod: str(pod.get("metadata", {}).get("creationTimestamp")))
    for pod in reversed(newest):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            message = ((status.get("state") or {}).get("terminated") or {}).get("message")
            if message:
                return str(message)
    return None


def _condition(job: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in job.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return None


def build_finished_job(
    job: Mapping[str, Any] | None, message: str | None = None
) -> FinishedJob | None:
    """One Job as a FinishedJob; None while it runs (or when there is no Job)."""
    if job is None:
        return None
    name = str(job.get("metadata", {}).get("name", ""))
    found = build_finished_jobs([job], {name: message} if message else None)
    return found[0] if found else None


def _outcome(job: Mapping[str, Any]) -> tuple[bool, datetime | None] | None:
    """(succeeded, finish time) for a finished Job; None while it still runs."""
    status = job.get("status", {})
    complete = _condition(job, "Complete")
    if complete is not None or (status.get("succeeded") or 0) > 0:
        when = status.get("completionTime") or (complete or {}).get("lastTransitionTime")
        return True, parse_time(when)
    failed = _condition(job, "Failed")
    if failed is not None:
        return False, parse_time(failed.get("lastTransitionTime"))
    return None


def build_finished_jobs(
    jobs: Iterable[Mapping[str, Any]], messages: Mapping[str, str] | None = None
) -> list[FinishedJob]:
    """Finished Jobs, oldest first. ``messages`` maps a Job name to its pod's message."""
    found = []
    for job in jobs:
        outcome = _outcome(job)
        if outcome is None:
            continue
        meta = job.get("metadata", {})
        name = str(meta.get("name", ""))
        when = outcome[1] or parse_time(job.get("status", {}).get("startTime"))
        when = when or parse_time(meta.get("creationTimestamp"))
        if when is None:
            continue
        text = (meta.get("annotations") or {}).get(RESULT_ANNOTATION) or (messages or {}).get(name)
        found.append(FinishedJob(name, when, outcome[0], parse_result_line(text)))
    return sorted(found, key=lambda job: job.time)


def build_last_backup(finished: Sequence[FinishedJob]) -> dict[str, Any] | None:
    """``status.lastBackup`` for the most recent finished Job; None before the first."""
    if not finished:
        return None
    last = finished[-1]
    result: dict[str, Any] = {
        "time": format_time(last.time),
        "result": "Succeeded" if last.succeeded else "Failed",
    }
    size = last.report.get("size")
    if isinstance(size, int) and not isinstance(size, bool):
        result["size"] = size
    return result


def schedule_interval(schedule: str, now: datetime) -> timedelta:
    """The gap between the scheduled runs around ``now`` (cron schedules can be uneven).

    Raises ValueError for a schedule croniter cannot parse.
    """
    if not croniter.is_valid(schedule):
        raise ValueError(f"invalid cron schedule {schedule!r}")
    # Step forward from the previous run, not from now: when now is exactly a run
    # time, get_prev and get_next would skip it and double the interval.
    previous = croniter(schedule, now).get_prev(datetime)
    following = croniter(schedule, previous).get_next(datetime)
    return following - previous


def _cond(status: str, reason: str, message: str) -> conditions.Condition:
    return conditions.build_condition(conditions.Type.BACKUP_READY, status, reason, message)


def _age(now: datetime, then: datetime) -> str:
    minutes = max(0, int((now - then).total_seconds() // 60))
    return f"{minutes // 60}h{minutes % 60:02d}m"


def build_backup_condition(
    finished: Sequence[FinishedJob],
    *,
    schedule: str,
    now: datetime,
    since: datetime | None = None,
) -> dict[str, Any]:
    """The ``BackupReady`` condition (without lastTransitionTime, which the caller keeps).

    True only when the most recent backup succeeded and is at most
    :data:`STALE_INTERVALS` schedule intervals old. ``since`` (the RagAgent's
    creation time) lets a schedule that never produced a backup turn False
    once a backup is overdue, rather than staying Unknown forever.
    """
    try:
        limit = STALE_INTERVALS * schedule_interval(schedule, now)
    except ValueError as exc:
        return _cond("False", conditions.Reason.INVALID_SCHEDULE, str(exc))
    if not finished:
        if since is not None and now - since > limit:
            return _cond(
                "False",
                conditions.Reason.NO_BACKUP_YET,
                f"no backup finished in {_age(now, since)}",
            )
        return _cond("Unknown", conditions.Reason.NO_BACKUP_YET, "no backup has finished yet")
    last = finished[-1]
    if not last.succeeded:
        reason = str(last.report.get("reason") or f"job {last.name} failed")
        return _cond(
            "False",
            conditions.Reason.BACKUP_FAILED,
            f"last backup at {format_time(last.time)}: {reason}",
        )
    if now - last.time > limit:
        message = f"last backup is {_age(now, last.time)} old (limit {_age(now, now - limit)})"
        return _cond("False", conditions.Reason.BACKUP_STALE, message)
    return _cond(
        "True", conditions.Reason.BACKUP_SUCCEEDED, f"last backup at {format_time(last.time)}"
    )


def build_backup_status(
    jobs: Iterable[Mapping[str, Any]],
    *,
    schedule: str,
    now: datetime,
    since: datetime | None = None,
    messages: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """``(lastBackup, BackupReady condition)`` from the backup CronJob's Jobs."""
    finished = build_finished_jobs(jobs, messages)
    condition = build_backup_condition(finished, schedule=schedule, now=now, since=since)
    return build_last_backup(finished), condition
