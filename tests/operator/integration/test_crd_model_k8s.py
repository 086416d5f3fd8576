"""The real API server refuses model settings no agent pod could start with, naming the fix,
and accepts every spec the pod contract (tests/contract) proves startable.

Server-side dry runs: the full validation (schema and CEL) runs, nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract import specs
from tests.support import controlplane

pytestmark = pytest.mark.k8s
LOCAL_ONLY_MINILM = "model.embeddingProvider local runs all-MiniLM-L6-v2 (384 dimensions)"
OPENAI_NEEDS_ENDPOINT = "model.embeddingProvider openai needs model.apiKey"
KEYLESS_ENDPOINT = {"embeddingProvider": "openai", "baseURL": "https://llm.example/v1"}
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "local-runs-no-other-model": ({"embeddingModel": "BAAI/bge-small-en-v1.5"}, LOCAL_ONLY_MINILM),
    "local-runs-384-dimensions": ({"embeddingDimension": 768}, LOCAL_ONLY_MINILM),
    "openai-embeddings-need-an-endpoint": (
        {"embeddingProvider": "openai", "embeddingModel": "text-embedding-3-small"},
        OPENAI_NEEDS_ENDPOINT,
    ),
    "more-dimensions-than-hnsw-indexes": (
        {
            **KEYLESS_ENDPOINT,
            "embeddingModel": "text-embedding-3-large",
            "embeddingDimension": 3072,
        },
        "less than or equal to 2000",
    ),
}
ACCEPTED: dict[str, dict[str, Any]] = {
    "defaults": {},
    "minilm-by-its-short-name": {"embeddingModel": "all-MiniLM-L6-v2"},
    "minilm-by-its-hub-id": {"embeddingModel": "sentence-transformers/all-MiniLM-L6-v2"},
    "openai-at-the-hnsw-limit": {
        **KEYLESS_ENDPOINT,
        "embeddingModel": "text-embedding-3-large",
        "embeddingDimension": 2000,
    },
}


def dry_run(
    cluster: controlplane.ControlPlane, namespace: str, model: dict[str, Any]
) -> tuple[int, str]:
    body = {
        "apiVersion": "ragagent.dev/v1alpha1",
        "kind": "RagAgent",
        "metadata": {"name": "model-check"},
        "spec": {"database": {"managed": {}}, "model": model},
    }
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=json.dumps(body), check=False
    )
    return result.returncode, result.stderr


@pytest.mark.parametrize(("model", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_model_settings_no_pod_could_run_are_refused_with_the_fix(
    cluster: controlplane.ControlPlane,
    namespace: str,
    installed: object,
    model: dict[str, Any],
    message: str,
) -> None:
    returncode, stderr = dry_run(cluster, namespace, model)
    assert returncode != 0
    assert message in stderr


@pytest.mark.parametrize("model", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_model_settings_the_agent_runs_are_accepted(
    cluster: controlplane.ControlPlane, namespace: str, installed: object, model: dict[str, Any]
) -> None:
    returncode, stderr = dry_run(cluster, namespace, model)
    assert returncode == 0, stderr


def test_every_spec_of_the_pod_contract_is_one_the_api_server_accepts(
    cluster: controlplane.ControlPlane, namespace: str, installed: object
) -> None:
    matrix = [
        {
            "apiVersion": "ragagent.dev/v1alpha1",
            "kind": "RagAgent",
            "metadata": {"name": f"case-{index}"},
            "spec": case.spec(),
        }
        for index, case in enumerate(specs.MATRIX)
    ]
    items = [*specs.sample_documents(), *matrix]
    listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=listed, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(items)
