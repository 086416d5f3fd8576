"""What the journey reads behind the agent's back to check its data steps: row counts in the
managed database (``psql`` in its pod), a backup Job's result line, the dump on the bound
volume, and every object a RagAgent owns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e import steps
from tests.support import controlplane

# The tables a backup's manifest counts that nothing writes between a backup and a restore
# here (no chat runs meanwhile); the rate-limit tables change with every request.
COUNTED = ("documents", "chunks", "conversations", "messages", "api_keys")
# The chunks retrieval reads: a re-index keeps the previous generation's chunks beside the
# serving one's (an instant switch back), so a count of all rows counts both.
SERVING_CHUNKS = "chunks WHERE generation = (SELECT generation FROM embedding_index)"
# What psql prints for the knowledge: one JSON object, so one exec answers every question.
KNOWLEDGE_SQL = f"""
SELECT json_build_object(
  'documents', (SELECT count(*) FROM documents),
  'external_ids', (SELECT count(DISTINCT external_id) FROM documents),
  'chunks', (SELECT count(*) FROM {SERVING_CHUNKS}),
  'recorded_chunks', (SELECT coalesce(sum(chunk_count), 0) FROM documents),
  'files', (SELECT coalesce(json_agg(external_id ORDER BY external_id), '[]') FROM documents)
)
"""


def psql(cluster: controlplane.ControlPlane, namespace: str, agent: str, sql: str) -> str:
    """``sql`` run as the database's superuser over its local socket (trusted in the pod)."""
    done = cluster.kubectl(
        "exec", "-n", namespace, f"{agent}-postgres-0", "-c", "postgres", "--",
        "psql", "-U", "postgres", "-d", "ragagent", "-v", "ON_ERROR_STOP=1", "-tAc", sql,
    )  # fmt: skip
    return done.stdout.strip()


def knowledge(cluster: controlplane.ControlPlane, namespace: str, agent: str) -> dict[str, Any]:
    """Documents (and distinct external ids), chunk rows and the chunks the documents
    record, and the external ids."""
    return dict(json.loads(psql(cluster, namespace, agent, KNOWLEDGE_SQL)))


def row_counts(cluster: controlplane.ControlPlane, namespace: str, agent: str) -> dict[str, int]:
    """Rows of each table in :data:`COUNTED`."""
    pairs = ", ".join(f"'{table}', (SELECT count(*) FROM {table})" for table in COUNTED)
    found = json.loads(psql(cluster, namespace, agent, f"SELECT json_build_object({pairs})"))
    return {table: int(found[table]) for table in COUNTED}


def job_report(cluster: controlplane.ControlPlane, namespace: str, job: str) -> dict[str, Any]:
    """The JSON result line a backup or restore Job's pod left as its termination message."""
    selector = f"batch.kubernetes.io/job-name={job}"
    pods = steps.get_json(cluster, namespace, "pods", "-l", selector)["items"]
    for pod in pods:
        for status in pod["status"].get("containerStatuses") or []:
            message = ((status.get("state") or {}).get("terminated") or {}).get("message")
            if message:
                return dict(json.loads(message.strip().splitlines()[-1]))
    raise AssertionError(f"no result line in the pods of Job {job}: {json.dumps(pods)[-2000:]}")


def wait_job(
    cluster: controlplane.ControlPlane, namespace: str, job: str, timeout: float = 300
) -> None:
    """Waits for the Job to finish; fails with its pods' logs unless it succeeded."""

    def finished() -> str:
        body = steps.get_json(cluster, namespace, "job", job) or {}
        for cond in (body.get("status") or {}).get("conditions") or []:
            if cond["type"] in ("Complete", "Failed") and cond["status"] == "True":
                return str(cond["type"])
        return ""

    outcome = steps.wait_until(finished, f"Job {job} to finish", timeout=timeout)
    logs = cluster.kubectl("logs", "-n", namespace, f"job/{job}", "--tail=20", check=False)
    assert outcome == "Complete", f"Job {job}: {outcome}\n{logs.stdout}{logs.stderr}"


def volume_dir(cluster: controlplane.ControlPlane, namespace: str, claim: str) -> Path:
    """The host directory of a bound local-path claim (the node runs on this host)."""
    volume = steps.get_json(cluster, namespace, "pvc", claim)["spec"]["volumeName"]
    found = json.loads(cluster.kubectl("get", "pv", volume, "-o", "json").stdout)
    return Path(found["spec"]["local"]["path"])


def owned_objects(
    cluster: controlplane.ControlPlane, namespace: str, agent: str, uid: str
) -> list[dict[str, Any]]:
    """Every object of every listable namespaced kind that carries the RagAgent's instance
    label or names it (by uid) as an owner: what its deletion must take away."""
    kinds = cluster.kubectl(
        "api-resources", "--namespaced", "--verbs=list,delete", "-o", "name"
    ).stdout.split()
    listed = steps.get_json(
        cluster, namespace, ",".join(k for k in kinds if not k.startswith("events"))
    )
    return [item for item in listed["items"] if is_owned(item, agent, uid)]


def is_owned(item: dict[str, Any], agent: str, uid: str) -> bool:
    meta = item["metadata"]
    if (meta.get("labels") or {}).get("app.kubernetes.io/instance") == agent:
        return True
    return any(ref.get("uid") == uid for ref in meta.get("ownerReferences") or [])


def describe(items: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{item['kind']}/{item['metadata']['name']}" for item in items)
