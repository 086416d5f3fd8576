"""What a re-index Job's report means: the Reindexed condition, the served settings and
status.index (pure)."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from ragagent_operator import config, context, k8s
from ragagent_operator.render import reindex
from ragagent_operator.render.common import Agent, build_agent
from ragagent_operator.steps import index_status, restore

WHEN = "2025-03-10T02:05:00Z"
SERVING = {
    "generation": 1, "model": "all-MiniLM-L6-v2", "dimension": 384, "chunk_size": 800,
    "chunk_overlap": 120, "chunks": 22, "ndcg_at_10": 0.93, "recall_at_k": 1.0,
}  # fmt: skip
CANDIDATE = {**SERVING, "generation": 2, "chunk_size": 100, "chunks": 90, "ndcg_at_10": 0.41,
             "recall_at_k": 0.5}  # fmt: skip


def make_agent(**spec: Any) -> Agent:
    spec.setdefault("database", {"managed": {}})
    body = {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test")


def rollout_job(status: dict[str, Any], agent: Agent | None = None) -> dict[str, Any]:
    """The re-index Job the operator renders, with the status the Job controller gave it."""
    made = reindex.build_reindex_job(agent or make_agent(), settings_hash="abc", image="i:1")
    return {**made, "status": status}


def finished(succeeded: bool) -> dict[str, Any]:
    kind = "Complete" if succeeded else "Failed"
    status: dict[str, Any] = {
        "conditions": [{"type": kind, "status": "True", "lastTransitionTime": WHEN}]
    }
    return status | ({"succeeded": 1, "completionTime": WHEN} if succeeded else {"failed": 1})


def report(action: str, **extra: Any) -> dict[str, Any]:
    """What ``ragagent index rollout`` leaves: ``serving`` is the generation serving at its
    end, ``candidate`` the one it evaluated (none for noop and reverted)."""
    serving = CANDIDATE if action == "switched" else SERVING
    candidate = CANDIDATE if action in ("switched", "gated") else None
    return {"action": action, "check": "evalset", "passed": action != "gated", "reason": None,
            "seconds": 3.5, "serving": serving, "candidate": candidate} | extra  # fmt: skip


def test_a_running_job_reindexes_and_serves_nothing_yet() -> None:
    outcome = index_status.build_outcome(rollout_job({"active": 1}), {})
    assert (outcome.status, outcome.reason, outcome.serves) == ("False", "Reindexing", False)


@pytest.mark.parametrize(
    ("action", "reason", "verb"),
    [("switched", "Switched", "switched to generation 2 (all-MiniLM-L6-v2, 90 chunks)"),
     ("reverted", "Reverted", "switched back to generation 1"),
     ("noop", "AlreadyServing", "found serving generation 1")],
)  # fmt: skip
def test_a_report_that_its_settings_serve_moves_the_served_settings(
    action: str, reason: str, verb: str
) -> None:
    outcome = index_status.build_outcome(rollout_job(finished(True)), report(action))
    assert (outcome.status, outcome.reason, outcome.serves) == ("True", reason, True)
    assert verb in outcome.message
    assert WHEN in outcome.message


def test_a_gated_candidate_says_why_with_both_scores_and_the_thresholds() -> None:
    agent = make_agent(knowledge={"evaluation": {"maxNdcgDrop": 0.05, "minRecall": 0.3}})
    why = "nDCG@10 0.41 is more than 0.05 below the serving generation's 0.93"
    outcome = index_status.build_outcome(
        rollout_job(finished(True), agent), report("gated", reason=why)
    )
    assert (outcome.status, outcome.reason, outcome.serves) == ("False", "Gated", False)
    assert why in outcome.message
    assert "candidate nDCG@10 0.41 vs serving 0.93 - 0.05 (min 0.00)" in outcome.message
    assert "recall@k 0.50 vs serving 1.00 - 0.02 (min 0.30)" in outcome.message
    assert "evalset" in outcome.message
    assert "delete Job docs-reindex-abc to evaluate again" in outcome.message


def test_a_job_without_a_report_fails_closed_unless_it_ran_the_older_ungated_reindex() -> None:
    silent = index_status.build_outcome(rollout_job(finished(True)), {})
    assert (silent.status, silent.reason, silent.serves) == ("False", "ReindexFailed", False)
    assert "it left no report" in silent.message
    legacy = rollout_job(finished(True))
    legacy["spec"]["template"]["spec"]["containers"][0]["args"] = ["reindex"]
    older = index_status.build_outcome(legacy, {})
    assert (older.status, older.reason, older.serves) == ("True", "Reindexed", True)


def test_a_failed_job_names_its_log_and_how_to_try_again() -> None:
    failed = index_status.build_outcome(rollout_job(finished(False)), {})
    assert (failed.status, failed.reason) == ("False", "ReindexFailed")
    assert "kubectl logs job/docs-reindex-abc" in failed.message
    assert "delete the Job to try again" in failed.message


def test_the_served_settings_come_from_the_job_even_after_the_spec_moved_on() -> None:
    made_for = make_agent(knowledge={"chunking": {"size": 400, "overlap": 40}})
    job = rollout_job(finished(True), made_for)
    now = reindex.build_index_settings(make_agent())
    assert index_status.build_served_settings(job, now) == reindex.build_index_settings(made_for)
    job["metadata"]["annotations"].pop(reindex.SETTINGS_ANNOTATION)
    assert index_status.build_served_settings(job, now) == now


def test_status_index_after_a_switch_shows_the_candidate_serving() -> None:
    served = reindex.build_index_settings(make_agent())
    index = index_status.build_index_status(served, report("switched"), job="j", old=None)
    assert index["served"] == served
    assert index["serving"] == {
        "generation": 2, "model": "all-MiniLM-L6-v2", "dimension": 384, "chunkSize": 100,
        "chunkOverlap": 120, "chunks": 90, "ndcgAt10": 0.41, "recallAtK": 0.5, "state": "serving",
    }  # fmt: skip
    assert "candidate" not in index  # it is the serving generation now
    assert (index["check"], index["lastAction"], index["job"]) == ("evalset", "switched", "j")
    json.dumps(index)  # plain data, as a status patch sends it


def test_status_index_of_a_gated_candidate_and_what_a_later_report_drops() -> None:
    served = reindex.build_index_settings(make_agent())
    gated = index_status.build_index_status(
        served, report("gated", check="self"), job="j", old=None
    )
    assert (gated["serving"]["generation"], gated["serving"]["state"]) == (1, "serving")
    assert (gated["candidate"]["generation"], gated["candidate"]["state"]) == (2, "gated")
    assert gated["check"] == "selfcheck"
    # No new report: what the status said is kept.
    assert index_status.build_index_status(served, {}, job=None, old=gated) == gated
    noop = report("noop", candidate=None, check=None)
    after = index_status.build_index_status(served, noop, job="k", old=gated)
    # Keys gone from the new status are sent as None, which the merge patch removes.
    assert (after["candidate"], after["check"], after["lastAction"]) == (None, None, "noop")


def test_the_serving_agent_keeps_the_hold_the_restore_step_swapped_in() -> None:
    """A restore holds the agent at 0 replicas for the steps after it; the Deployment is
    rendered with the served index settings of that held agent, not of the spec's."""
    changed = make_agent(knowledge={"chunking": {"size": 400, "overlap": 40}})
    settings = config.OperatorSettings()
    ctx = context.Context(api=cast(k8s.Api, None), settings=settings, agent=changed, body={})
    ctx.served_index = reindex.build_index_settings(make_agent())
    ctx.agent = restore.build_held_agent(changed)
    serving = ctx.serving_agent
    assert serving.spec.replicas == 0
    assert (serving.spec.knowledge.chunking.size, serving.spec.knowledge.chunking.overlap) == (
        800,
        120,
    )
