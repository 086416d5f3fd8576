"""What the agent's pods read, on the real control plane: sealed and rotated Secrets roll
into the pods, and a knowledge change starts a new ingest Job."""

from __future__ import annotations

import base64
import subprocess
import time

import pytest

from tests.operator.integration.agents import (
    DATABASE_URL,
    condition,
    db_secret,
    deployment,
    ready_agent,
    wait_for_secret,
)
from tests.operator.integration.harness import RESYNC_SECONDS, Operator, get_json, wait_for
from tests.support import controlplane

pytestmark = pytest.mark.k8s


def test_sealed_secrets_controller_unseals_generated_and_user_sealed_values(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    sealed = subprocess.run(
        [
            str(cluster.tool("kubeseal")),
            "--raw",
            "--scope",
            "strict",
            "--namespace",
            namespace,
            "--name",
            "docs-llm",
            "--cert",
            str(cluster.sealing_cert_path),
        ],
        input="sk-test-123",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ready_agent(
        cluster,
        namespace,
        operator,
        model={"provider": "openai", "apiKey": {"sealed": {"encryptedValue": sealed}}},
    )
    generated = get_json(cluster, "secret", "docs-generated", "-n", namespace)
    assert len(base64.b64decode(generated["data"]["secret-key"])) >= 48
    llm = wait_for_secret(cluster, namespace, "docs-llm", "docs-llm unsealed", operator)
    assert base64.b64decode(llm["data"]["api-key"]) == b"sk-test-123"
    live = get_json(cluster, "sealedsecret", "docs-llm", "-n", namespace)
    assert live["spec"]["encryptedData"]["api-key"] == sealed  # passed through untouched


def test_rotating_a_referenced_secret_rolls_the_pods(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator)
    key = "ragagent.dev/secrets-hash"
    before = deployment(cluster, namespace, "docs")["spec"]["template"]["metadata"]["annotations"][
        key
    ]
    db_secret(cluster, namespace, "docs-pg", DATABASE_URL.replace("u:p@", "u:rotated@"))

    def after() -> str:
        annotations = deployment(cluster, namespace, "docs")["spec"]["template"]["metadata"][
            "annotations"
        ]
        return str(annotations[key])

    wait_for(lambda: after() != before, "secrets hash changed", operator=operator)
    wait_for(
        lambda: condition(cluster, namespace, "Ready").get("status") == "True",
        "Ready after roll",
        operator=operator,
    )


def _ingest_jobs(cluster: controlplane.ControlPlane, namespace: str) -> list[str]:
    selector = "app.kubernetes.io/component=ingest,app.kubernetes.io/instance=docs"
    listed = get_json(cluster, "jobs", "-n", namespace, "-l", selector) or {"items": []}
    return sorted(job["metadata"]["name"] for job in listed["items"])


def test_knowledge_change_starts_a_new_ingest_job_keyed_by_content(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    cluster.kubectl("create", "configmap", "faq", "-n", namespace, "--from-literal=a.md=# One")
    cluster.kubectl("label", "configmap", "faq", "-n", namespace, "ragagent.dev/use=true")
    ready_agent(
        cluster, namespace, operator, knowledge={"sources": [{"configMap": {"name": "faq"}}]}
    )
    first = wait_for(
        lambda: _ingest_jobs(cluster, namespace), "first ingest Job", operator=operator
    )
    time.sleep(2 * RESYNC_SECONDS)
    assert _ingest_jobs(cluster, namespace) == first  # unchanged content, no new Job
    patch = '{"data":{"a.md":"# Two"}}'
    cluster.kubectl("patch", "configmap", "faq", "-n", namespace, "--type=merge", "-p", patch)
    wait_for(
        lambda: (jobs := _ingest_jobs(cluster, namespace)) and first[0] not in jobs,
        "a new ingest Job replacing the old one",
        operator=operator,
    )
    assert len(_ingest_jobs(cluster, namespace)) == 1
