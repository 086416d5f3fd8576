"""The real API server refuses RagAgent specs no agent pod could start with, naming the fix,
and accepts every spec the pod contract (tests/contract) proves startable, and the backup
settings (encryption, object storage, restoring from the bucket) likewise.

Server-side dry runs (``agents.dry_run``): the full validation (schema and CEL) runs,
nothing is stored. One table of refused specs, one of accepted ones, each a spec section.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract import specs
from tests.operator.integration.agents import dry_run
from tests.support import controlplane

pytestmark = pytest.mark.k8s
LOCAL_ONLY_MINILM = "model.embeddingProvider local runs all-MiniLM-L6-v2 (384 dimensions)"
OPENAI_NEEDS_ENDPOINT = "model.embeddingProvider openai needs model.apiKey"
KEYLESS_ENDPOINT = {"embeddingProvider": "openai", "baseURL": "https://llm.example/v1"}
BAD_HOSTS = "network.hosts must be lower-case DNS names"
BAD_PROXIES = "network.trustedProxies must list CIDRs"
RETENTION = "spec.conversations.retention.days"
OPENAI_CHAT = {"provider": "openai", "baseURL": "https://llm.example/v1"}
FALLBACK = {"baseURL": "https://fallback-llm.example/v1"}
AGE_KEY = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
ENCRYPTED = {"recipients": [AGE_KEY]}
STORAGE = {
    "endpoint": "https://s3.eu-west-1.amazonaws.com",
    "bucket": "team-backups",
    "prefix": "prod/docs",
    "credentialsSecretRef": {"name": "s3-creds"},
}
BACKUP_ID = "20250310T020000.123Z-1a2b3c4d"


def _retention(days: object) -> dict[str, Any]:
    return {"conversations": {"retention": {"days": days}}}


def _backup(**fields: Any) -> dict[str, Any]:
    return {"backup": {"enabled": True, **fields}}


# Per case: the spec sections, and what the refusal must say.
REFUSED: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "local-runs-no-other-model": (
        {"model": {"embeddingModel": "BAAI/bge-small-en-v1.5"}},
        (LOCAL_ONLY_MINILM,),
    ),
    "local-runs-384-dimensions": ({"model": {"embeddingDimension": 768}}, (LOCAL_ONLY_MINILM,)),
    "openai-embeddings-need-an-endpoint": (
        {"model": {"embeddingProvider": "openai", "embeddingModel": "text-embedding-3-small"}},
        (OPENAI_NEEDS_ENDPOINT,),
    ),
    "more-dimensions-than-hnsw-indexes": (
        {
            "model": {
                **KEYLESS_ENDPOINT,
                "embeddingModel": "text-embedding-3-large",
                "embeddingDimension": 3072,
            }
        },
        ("less than or equal to 2000",),
    ),
    "host-upper-case": ({"network": {"hosts": ["Rag.Example.com"]}}, (BAD_HOSTS,)),
    "host-with-port": ({"network": {"hosts": ["rag.example.com:443"]}}, (BAD_HOSTS,)),
    "host-any": ({"network": {"hosts": ["*"]}}, (BAD_HOSTS,)),
    "proxy-not-a-cidr": ({"network": {"trustedProxies": ["10.0.0.1"]}}, (BAD_PROXIES,)),
    "proxy-any": ({"network": {"trustedProxies": ["*"]}}, (BAD_PROXIES,)),
    "retention-zero": (_retention(0), (RETENTION, "should be greater than or equal to 1")),
    "retention-over-100-years": (
        _retention(36501),
        (RETENTION, "should be less than or equal to 36500"),
    ),
    "retention-a-string": (_retention("30"), (RETENTION, 'must be of type integer: "string"')),
    "no-grace-to-finish-answers": (
        {"shutdownGraceSeconds": 0},
        ("spec.shutdownGraceSeconds", "should be greater than or equal to 1"),
    ),
    "fallbacks-without-an-llm": (
        {"model": {"fallbacks": [FALLBACK]}},
        ("model.fallbacks need model.provider openai",),
    ),
    "fallback-not-a-url": (
        {"model": {**OPENAI_CHAT, "fallbacks": [{"baseURL": "llm.example"}]}},
        ("model.fallbacks[].baseURL must be an http(s) URL",),
    ),
    "more-fallbacks-than-the-agent-reads": (
        {"model": {**OPENAI_CHAT, "fallbacks": [FALLBACK] * 3}},
        ("must have at most 2 items",),
    ),
    "backup-copy-in-clear": (
        _backup(objectStorage=STORAGE),
        ("backup.objectStorage needs backup.encryption: backups leave the cluster encrypted",),
    ),
    "backup-private-key-as-recipient": (
        _backup(encryption={"recipients": ["AGE-SECRET-KEY-1" + "Q" * 58]}),
        ("spec.backup.encryption.recipients[0]: Too long",),
    ),
    "backup-not-an-age-key": (
        _backup(encryption={"recipients": ["age1" + "B" * 58]}),
        ("backup.encryption.recipients must be age public keys (age1...)",),
    ),
    "backup-no-recipient": (
        _backup(encryption={"recipients": []}),
        ("should have at least 1 items",),
    ),
    "backup-endpoint-with-a-path": (
        _backup(encryption=ENCRYPTED, objectStorage={**STORAGE, "endpoint": "https://s3/b"}),
        ("backup.objectStorage.endpoint must be http(s)://host[:port]",),
    ),
    "backup-bucket-name": (
        _backup(encryption=ENCRYPTED, objectStorage={**STORAGE, "bucket": "Team_Backups"}),
        ("backup.objectStorage.bucket must be an S3 bucket name",),
    ),
    "backup-prefix-escape": (
        _backup(encryption=ENCRYPTED, objectStorage={**STORAGE, "prefix": "a/../b"}),
        ("backup.objectStorage.prefix must be path segments like a/b",),
    ),
    "restore-source": (
        {**_backup(), "restore": {"from": BACKUP_ID, "source": "s3"}},
        ('Unsupported value: "s3"',),
    ),
    "a-similarity-is-at-most-1": (
        {"answers": {"minSimilarity": 1.5}},
        ("spec.answers.minSimilarity: Invalid value: 1.5",),
    ),
}
ACCEPTED: dict[str, dict[str, Any]] = {
    "defaults": {},
    "never-decline-and-no-rewrite": {"answers": {"minSimilarity": 0, "rewriteFollowUps": False}},
    "minilm-by-its-short-name": {"model": {"embeddingModel": "all-MiniLM-L6-v2"}},
    "minilm-by-its-hub-id": {"model": {"embeddingModel": "sentence-transformers/all-MiniLM-L6-v2"}},
    "openai-at-the-hnsw-limit": {
        "model": {
            **KEYLESS_ENDPOINT,
            "embeddingModel": "text-embedding-3-large",
            "embeddingDimension": 2000,
        }
    },
    "dns-names-wildcards-and-cidrs": {
        "network": {
            "hosts": ["rag.example.com", "*.chat.example.com", "localhost"],
            "trustedProxies": ["10.244.0.0/16", "203.0.113.7/32", "2001:db8::/64"],
        }
    },
    "retention-one-day": _retention(1),
    "retention-90-days": _retention(90),
    "retention-100-years": _retention(36500),
    "two-fallback-providers": {
        "model": {
            **OPENAI_CHAT,
            "fallbacks": [
                {**FALLBACK, "apiKey": {"secretRef": {"name": "llm", "key": "fallback"}}},
                {"baseURL": "http://llm.models.svc:8080/v1", "chatModel": "small"},
            ],
        }
    },
    "backup-encrypted-volume-only": _backup(encryption=ENCRYPTED),
    "backup-encrypted-copy": _backup(
        encryption=ENCRYPTED, objectStorage={**STORAGE, "maxAgeDays": 90}
    ),
    "backup-to-in-cluster-minio": _backup(
        encryption=ENCRYPTED,
        objectStorage={**STORAGE, "endpoint": "http://minio.storage.svc:9000"},
    ),
    "restore-from-the-bucket": {
        **_backup(encryption=ENCRYPTED, objectStorage=STORAGE),
        "restore": {
            "from": BACKUP_ID,
            "source": "bucket",
            "identitySecretRef": {"name": "backup-key"},
        },
    },
}


@pytest.mark.parametrize(("spec", "messages"), REFUSED.values(), ids=REFUSED.keys())
def test_specs_no_pod_could_run_are_refused_with_the_fix(
    cluster: controlplane.ControlPlane,
    namespace: str,
    installed: object,
    spec: dict[str, Any],
    messages: tuple[str, ...],
) -> None:
    result = dry_run(cluster, namespace, **spec)
    assert result.returncode != 0
    for message in messages:
        assert message in result.stderr


@pytest.mark.parametrize("spec", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_specs_the_agent_runs_are_accepted(
    cluster: controlplane.ControlPlane, namespace: str, installed: object, spec: dict[str, Any]
) -> None:
    result = dry_run(cluster, namespace, **spec)
    assert result.returncode == 0, result.stderr


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
