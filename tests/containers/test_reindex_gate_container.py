"""The re-index Job's pod gated by an evaluation set, run from the operator's own render.

The RagAgent names an evaluation ConfigMap, so the rendered pod mounts it read-only at
/evaluation/queries.jsonl and runs ``index rollout --eval-set`` with it. The candidate
scores below the RagAgent's minimum nDCG: it stays unserved, the Job succeeds (a gated
candidate is an answer, not a failure), and its termination message, read the way the
operator reads it, is ``Reindexed=False/Gated`` with the reason.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import psycopg
import pytest

from ragagent_operator.render import reindex
from ragagent_operator.steps import index_status
from tests.containers import stack as stacks
from tests.support.podrun import runner, workloads

pytestmark = pytest.mark.containers

SOURCE = f"configmap/{stacks.KNOWLEDGE_CONFIG_MAP}"
EVAL_CONFIG_MAP = "docs-evaluation"
# One question the knowledge answers and one about a document the set expects but nobody
# ingested (a stale set): no generation scores above 0.5 nDCG@10, under the minimum 0.9.
QUERIES = [
    {"query": "How far is the Brightwater lamp visible?", "relevant": [f"{SOURCE}/lighthouse.md"]},
    {"query": "When is high tide at the harbour?", "relevant": [f"{SOURCE}/tides.md"]},
]
MIN_NDCG = 0.9
# Neither the default chunking nor the one another module of the session switches to, so
# the Job builds a candidate whichever ran first.
CHUNKING = {"size": 300, "overlap": 30}
WHEN = "2025-03-10T02:05:00Z"


def read_generations(url: str) -> dict[int, tuple[str, int | None]]:
    """Each generation's state and chunk size."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, state, chunk_size FROM index_generations").fetchall()
    return {int(row[0]): (str(row[1]), row[2]) for row in rows}


def serving_of(found: dict[int, tuple[str, int | None]]) -> int:
    [serving] = [generation for generation, (state, _) in found.items() if state == "serving"]
    return serving


def build_gated_stack(stack: stacks.Stack) -> stacks.Stack:
    """The session's stack with the evaluation gate and a new chunking in the spec, and the
    evaluation ConfigMap beside its other objects (a copy: the session's stays as it was)."""
    evaluation = {"configMap": {"name": EVAL_CONFIG_MAP}, "minNdcg": MIN_NDCG}
    sources = [{"configMap": {"name": stacks.KNOWLEDGE_CONFIG_MAP}}]
    knowledge = {"sources": sources, "chunking": CHUNKING, "evaluation": evaluation}
    lines = "".join(json.dumps(query) + "\n" for query in QUERIES)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"queries.jsonl": lines}}
    return dataclasses.replace(
        stack.with_spec(knowledge=knowledge),
        extra_config_maps={**stack.extra_config_maps, EVAL_CONFIG_MAP: config_map},
    )


def completed(job: dict[str, Any]) -> dict[str, Any]:
    """The Job as the Job controller leaves it after its pod exited 0."""
    condition = {"type": "Complete", "status": "True", "lastTransitionTime": WHEN}
    status = {"succeeded": 1, "completionTime": WHEN, "conditions": [condition]}
    return {**job, "status": status}


def test_a_candidate_the_evaluation_set_gates_stays_unserved_and_the_job_says_why(
    stack: stacks.Stack, ingested: runner.Finished, host_db_url: str
) -> None:
    before = read_generations(host_db_url)
    gated = build_gated_stack(stack)
    settings_hash = reindex.index_settings_hash(gated.agent)
    job = reindex.build_reindex_job(
        gated.agent, settings_hash=settings_hash, image=stack.agent.image
    )
    args = workloads.pod_spec_of(job)["containers"][0]["args"]
    assert args[args.index("--eval-set") + 1] == "/evaluation/queries.jsonl"

    done = gated.run(job)

    assert done.exit_code == 0, done.describe()
    report = json.loads(done.termination_message)
    assert (report["action"], report["check"], report["passed"]) == ("gated", "evalset", False)
    assert f"below the minimum {MIN_NDCG}" in report["reason"], report
    assert report["candidate"]["chunk_size"] == CHUNKING["size"]
    assert report["candidate"]["ndcg_at_10"] <= 0.5
    after = read_generations(host_db_url)
    assert serving_of(after) == serving_of(before)
    assert after[report["candidate"]["generation"]] == ("ready", CHUNKING["size"])
    outcome = index_status.build_outcome(completed(job), report)
    assert (outcome.status, outcome.reason, outcome.serves) == ("False", "Gated", False)
