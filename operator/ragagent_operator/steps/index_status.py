"""What a re-index Job's report means: the ``Reindexed`` condition and ``status.index``.

``ragagent index rollout`` exits 0 whether it switched or the gate kept the candidate
out, and leaves one JSON line as its termination message::

    {"action": "noop|reverted|switched|gated", "check": "evalset|selfcheck", "passed": ...,
     "reason": ..., "serving": {generation, model, dimension, chunk_size, chunk_overlap,
     chunks, ndcg_at_10, recall_at_k}, "candidate": {...} | null}

``serving`` is the generation serving when the Job ended (the new one after a switch),
``candidate`` the one it evaluated (null for noop and reverted). Only a report that
says the Job's settings serve moves the served settings: a Job that succeeded without
one (a lost message) counts as failed, since a gate that cannot be read must not pass.
The one exception is an older operator's ``ragagent reindex`` Job, whose success was its
ungated switch. Pure: ``steps.reindex`` reads the Jobs and their messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ragagent_operator import backup_status, conditions
from ragagent_operator.render import reindex

# Actions after which the Job's settings are the serving generation's.
SERVES = {
    "switched": conditions.Reason.SWITCHED,
    "reverted": conditions.Reason.REVERTED,
    "noop": conditions.Reason.ALREADY_SERVING,
}
CHECKS = {"evalset": "evalset", "selfcheck": "selfcheck", "self": "selfcheck"}
# The gate's flags in the Job's command line, as the Gated message names them.
GATE_FLAGS = ("--min-ndcg", "--min-recall", "--max-ndcg-drop", "--max-recall-drop")
LEGACY_ARGS = ["reindex"]


@dataclass(frozen=True)
class Outcome:
    """The Reindexed condition for one re-index Job (``status``, ``reason``, ``message``),
    and whether its settings now serve."""

    status: str
    reason: str
    message: str
    serves: bool = False


def build_outcome(job: Mapping[str, Any], report: Mapping[str, Any]) -> Outcome:
    """The state of re-index Job ``job`` with its report (``{}``: none, or still running)."""
    name = str(job.get("metadata", {}).get("name", ""))
    finished = backup_status.build_finished_job(job)
    if finished is None:
        message = f"re-index Job {name} builds and evaluates a candidate generation"
        return Outcome("False", conditions.Reason.REINDEXING, message)
    when = backup_status.format_time(finished.time)
    action = str(report.get("action") or "")
    if finished.succeeded and action in SERVES:
        return Outcome("True", SERVES[action], build_served_message(name, report, when), True)
    if finished.succeeded and action == "gated":
        return Outcome("False", conditions.Reason.GATED, build_gate_message(job, report))
    if finished.succeeded and not report and _args(job) == LEGACY_ARGS:
        message = f"index rebuilt by Job {name} at {when}"
        return Outcome("True", conditions.Reason.REINDEXED, message, True)
    why = str(report.get("reason") or "") or (
        "it left no report" if finished.succeeded else "see its log"
    )
    message = (
        f"re-index Job {name} failed at {when} ({why}); the serving index stays; see "
        f"kubectl logs job/{name}, then delete the Job to try again"
    )
    return Outcome("False", conditions.Reason.REINDEX_FAILED, message)


def build_served_message(name: str, report: Mapping[str, Any], when: str) -> str:
    done = {"switched": "switched to", "reverted": "switched back to", "noop": "found serving"}
    new = report.get("serving") or {}
    message = f"Job {name} {done[str(report['action'])]} generation {new.get('generation')}"
    message += f" ({new.get('model')}, {new.get('chunks')} chunks) at {when}"
    if report.get("candidate"):  # it was evaluated: its scores, and the check
        check = CHECKS.get(str(report.get("check")), "no check")
        message += f": nDCG@10 {_num(new.get('ndcg_at_10'))}, recall@k "
        message += f"{_num(new.get('recall_at_k'))} ({check})"
    return message


def build_gate_message(job: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """Why the candidate stays unserved: both generations' scores and the thresholds the
    Job ran with (read from its command line, so a later spec edit does not misreport)."""
    args = _args(job)
    gate = {flag: args[i + 1] for i, flag in enumerate(args[:-1]) if flag in GATE_FLAGS}
    new, old = report.get("candidate") or {}, report.get("serving") or {}
    name = str(job.get("metadata", {}).get("name", ""))
    return (
        f"candidate generation {new.get('generation')} not served: {report.get('reason')}; "
        f"candidate nDCG@10 {_num(new.get('ndcg_at_10'))} vs serving "
        f"{_num(old.get('ndcg_at_10'))} - {_num(gate.get('--max-ndcg-drop'))} "
        f"(min {_num(gate.get('--min-ndcg'))}), recall@k {_num(new.get('recall_at_k'))} vs "
        f"serving {_num(old.get('recall_at_k'))} - {_num(gate.get('--max-recall-drop'))} "
        f"(min {_num(gate.get('--min-recall'))}), {CHECKS.get(str(report.get('check')), '?')}; "
        f"revert the spec to keep the serving index, or delete Job {name} to evaluate again"
    )


def _num(value: Any) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return "none"


def _args(job: Mapping[str, Any]) -> list[str]:
    pod = job.get("spec", {}).get("template", {}).get("spec", {})
    containers = pod.get("containers") or [{}]
    return [str(arg) for arg in containers[0].get("args") or []]


def build_served_settings(
    job: Mapping[str, Any], spec_settings: Mapping[str, Any]
) -> dict[str, Any]:
    """The index settings re-index Job ``job`` was made for (its annotation); the spec's
    when the annotation is missing (an older operator's Job, made for the spec's hash)."""
    text = (job.get("metadata", {}).get("annotations") or {}).get(reindex.SETTINGS_ANNOTATION)
    try:
        found = json.loads(text) if text else None
    except ValueError:
        found = None
    return dict(found) if isinstance(found, dict) else dict(spec_settings)


def build_generation(item: Mapping[str, Any] | None, state: str) -> dict[str, Any] | None:
    """A report's generation as ``status.index`` shows it; None for none."""
    if not item:
        return None
    found = {
        "generation": item.get("generation"),
        "model": str(item.get("model") or ""),
        "dimension": int(item.get("dimension") or 0),
        "chunkSize": item.get("chunk_size"),
        "chunkOverlap": item.get("chunk_overlap"),
        "chunks": int(item.get("chunks") or 0),
        "ndcgAt10": item.get("ndcg_at_10"),
        "recallAtK": item.get("recall_at_k"),
        "state": state,
    }
    return {key: value for key, value in found.items() if value is not None}


def build_index_status(
    served: Mapping[str, Any],
    report: Mapping[str, Any],
    *,
    job: str | None,
    old: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``status.index``: the served settings, and what the newest report said (else what the
    status said before). Keys the old status had and this one drops are sent as None, which
    a merge patch removes."""
    index: dict[str, Any] = {"served": dict(served)}
    action = report.get("action")
    if action in (*SERVES, "gated"):
        serving, other = report.get("serving") or {}, report.get("candidate") or {}
        if other.get("generation") == serving.get("generation"):
            other = {}  # switched: the candidate is the serving generation now
        generations = {
            "serving": build_generation(serving, "serving"),
            "candidate": build_generation(other, "gated"),
        }
        index.update({key: value for key, value in generations.items() if value})
        index.update(check=CHECKS.get(str(report.get("check"))), lastAction=action, job=job)
        index = {key: value for key, value in index.items() if value is not None}
    else:
        kept = ("serving", "candidate", "check", "lastAction", "job")
        index.update({key: old[key] for key in kept if old and key in old})
    return index | {key: None for key in (old or {}) if key not in index}
