"""Index generations behind an eval gate on the real control plane: the agent keeps the
served index settings while the re-index Job builds and evaluates a candidate, and moves
to the new ones only once the Job reports they serve.

The RagAgent's pods ask for a node label no node has, so no kwok stage runs the re-index
pod; the test finishes it as a kubelet would, with the line ``ragagent index rollout``
leaves as its termination message. Backups are off, so no backup Job comes first.
"""

from __future__ import annotations

from typing import Any

import pytest

from ragagent.core import settings_env
from tests.operator.integration import agents, harness, jobs
from tests.support import controlplane

pytestmark = pytest.mark.k8s
NO_NODE = {"ragagent.dev/test-node": "none"}
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# Through an OpenAI-compatible endpoint (the local provider runs only MiniLM), which the
# agent names from the start: only the index settings change, nothing else rolls the pods.
ENDPOINT = {"baseURL": "https://llm.example/v1"}
OTHER_MODEL = {
    "embeddingProvider": "openai",
    "embeddingModel": "text-embedding-3-small",
    "embeddingDimension": 512,
}
EMBEDDING_MODEL = settings_env.env_name("embedding_model")
CHUNK_SIZE = settings_env.env_name("chunk_size")


def generation(number: int, model: str, size: int, ndcg: float, recall: float) -> dict[str, Any]:
    """A generation as the rollout report describes it."""
    return {
        "generation": number, "model": model, "dimension": 384, "chunk_size": size,
        "chunk_overlap": 40, "chunks": 12, "ndcg_at_10": ndcg, "recall_at_k": recall,
    }  # fmt: skip


def report(action: str, serving: Any, candidate: Any, reason: str | None = None) -> Any:
    return {"action": action, "check": "evalset", "passed": action != "gated", "reason": reason,
            "seconds": 4.2, "serving": serving, "candidate": candidate}  # fmt: skip


def new_agent(cluster: controlplane.ControlPlane, ns: str, operator: harness.Operator) -> str:
    """A RagAgent whose Jobs wait for the test; returns its first served settings' hash."""
    agents.agent_with_condition(
        cluster, ns, operator, "Reconciled", "True", nodeSelector=NO_NODE, model=ENDPOINT
    )
    served = harness.wait_for(
        lambda: served_settings(cluster, ns), "status.index.served", operator=operator
    )
    assert served["hash"] == agents.agent_status(cluster, ns)["indexSettingsHash"]
    assert (served["embeddingModel"], served["chunkSize"]) == (MINILM, 800)
    return str(served["hash"])


def served_settings(cluster: controlplane.ControlPlane, ns: str) -> dict[str, Any]:
    return dict((agents.agent_status(cluster, ns).get("index") or {}).get("served") or {})


def reindexed(
    cluster: controlplane.ControlPlane, ns: str, operator: harness.Operator, reason: str
) -> dict[str, Any]:
    return agents.wait_condition(cluster, ns, operator, "Reindexed", reason=reason)


def settings_data(cluster: controlplane.ControlPlane, ns: str) -> dict[str, str]:
    return dict((harness.get_json(cluster, "configmap", "docs-config", "-n", ns) or {})["data"])


def config_hash(cluster: controlplane.ControlPlane, ns: str) -> str:
    template = agents.deployment(cluster, ns, "docs")["spec"]["template"]
    return str(template["metadata"]["annotations"]["ragagent.dev/config-hash"])


def rollout_jobs(cluster: controlplane.ControlPlane, ns: str) -> list[str]:
    listed = harness.get_json(cluster, "jobs", "-n", ns) or {"items": []}
    names = (job["metadata"]["name"] for job in listed["items"])
    return sorted(name for name in names if name.startswith("docs-reindex-"))


def start_change(
    cluster: controlplane.ControlPlane, ns: str, operator: harness.Operator, spec: Any
) -> str:
    """Change the index settings; returns the re-index Job once the status says it runs."""
    before = set(rollout_jobs(cluster, ns))
    agents.patch_agent(cluster, ns, {"spec": spec})
    running = reindexed(cluster, ns, operator, "Reindexing")
    assert running["status"] == "False"
    [job] = set(rollout_jobs(cluster, ns)) - before
    assert job in running["message"]
    return job


def finish(cluster: controlplane.ControlPlane, ns: str, job: str, line: Any) -> None:
    pod = harness.wait_for(lambda: jobs.job_pod(cluster, ns, job), f"the pod of {job}")
    jobs.finish_pod(cluster, ns, pod, report=line, succeeded=True)


def test_a_model_change_serves_only_after_the_job_switched_and_a_revert_switches_back(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator
) -> None:
    first = new_agent(cluster, namespace, operator)
    rolled_from = config_hash(cluster, namespace)
    job = start_change(cluster, namespace, operator, {"model": OTHER_MODEL})
    # The candidate is built with the new model while the agent keeps the serving one.
    pod = harness.wait_for(lambda: jobs.job_pod(cluster, namespace, job), f"the pod of {job}")
    env = {item["name"]: item.get("value") for item in pod["spec"]["containers"][0]["env"]}
    assert env[EMBEDDING_MODEL] == "text-embedding-3-small"
    assert settings_data(cluster, namespace)[EMBEDDING_MODEL] == MINILM
    assert config_hash(cluster, namespace) == rolled_from
    assert served_settings(cluster, namespace)["hash"] == first

    new = {**generation(2, "text-embedding-3-small", 800, 0.95, 1.0), "dimension": 512}
    finish(cluster, namespace, job, report("switched", new, new))
    switched = reindexed(cluster, namespace, operator, "Switched")
    assert switched["status"] == "True"
    assert "switched to generation 2 (text-embedding-3-small, 12 chunks)" in switched["message"]
    harness.wait_for(
        lambda: settings_data(cluster, namespace)[EMBEDDING_MODEL] == "text-embedding-3-small",
        "the ConfigMap on the new model",
        operator=operator,
    )
    harness.wait_for(
        lambda: config_hash(cluster, namespace) != rolled_from,
        "the Deployment rolled to it",
        operator=operator,
    )
    index = harness.wait_for(
        lambda: (
            (found := agents.agent_status(cluster, namespace)["index"])["served"]["hash"] != first
            and found
        ),
        "status.index after the switch",
        operator=operator,
    )
    assert index["served"]["embeddingModel"] == "text-embedding-3-small"
    assert (index["serving"]["generation"], index["lastAction"]) == (2, "switched")

    # Back to MiniLM: its generation is retained, so the Job switches back to it.
    back = start_change(cluster, namespace, operator, {"model": dict.fromkeys(OTHER_MODEL)})
    old = generation(1, "all-MiniLM-L6-v2", 800, 0.93, 1.0)
    finish(cluster, namespace, back, report("reverted", old, None))
    reverted = reindexed(cluster, namespace, operator, "Reverted")
    assert "switched back to generation 1" in reverted["message"]
    harness.wait_for(
        lambda: served_settings(cluster, namespace).get("hash") == first,
        "the first settings served again",
        operator=operator,
    )
    assert settings_data(cluster, namespace)[EMBEDDING_MODEL] == MINILM


def test_a_gated_candidate_stays_unserved_and_reverting_the_spec_needs_no_job(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator
) -> None:
    first = new_agent(cluster, namespace, operator)
    chunking = {"knowledge": {"chunking": {"size": 100, "overlap": 0}}}
    job = start_change(cluster, namespace, operator, chunking)
    why = "nDCG@10 0.41 is more than 0.02 below the serving generation's 0.93"
    serving = generation(1, "all-MiniLM-L6-v2", 800, 0.93, 1.0)
    candidate = generation(2, "all-MiniLM-L6-v2", 100, 0.41, 0.5)
    finish(cluster, namespace, job, report("gated", serving, candidate, why))

    gated = reindexed(cluster, namespace, operator, "Gated")
    assert gated["status"] == "False"
    assert why in gated["message"]
    assert "candidate nDCG@10 0.41 vs serving 0.93 - 0.02" in gated["message"]
    assert "recall@k 0.50 vs serving 1.00 - 0.02" in gated["message"]
    # The status step writes the condition after the ConfigMap step ran in that reconcile.
    assert settings_data(cluster, namespace)[CHUNK_SIZE] == "800"
    index = agents.agent_status(cluster, namespace)["index"]
    assert index["served"]["hash"] == first
    assert (index["candidate"]["generation"], index["candidate"]["state"]) == (2, "gated")
    assert (index["serving"]["ndcgAt10"], index["lastAction"]) == (0.93, "gated")
    [warning] = harness.wait_for(
        lambda: [e for e in agents.events_of(cluster, namespace) if e[1] == "Gated"],
        "the Warning Event of the gated candidate",
        operator=operator,
    )
    assert warning[0] == "Warning"
    assert "0.41" in warning[2]

    agents.patch_agent(cluster, namespace, {"spec": {"knowledge": {"chunking": None}}})
    back = reindexed(cluster, namespace, operator, "SettingsReverted")
    assert back["status"] == "True"
    assert agents.agent_status(cluster, namespace)["indexSettingsHash"] == first
    assert rollout_jobs(cluster, namespace) == [job]  # no re-index to go back
    assert served_settings(cluster, namespace)["hash"] == first
