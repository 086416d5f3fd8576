"""The committed CRD is the generated one, and it teaches the API through `kubectl explain`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ragagent_operator import crd, spec, spec_network

CRD_FILE = Path(__file__).parents[2] / "manifests" / "crd" / "ragagent.dev_ragagents.yaml"


def _walk(schema: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for name, child in (schema.get("properties") or {}).items():
        found += _walk(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += _walk(schema["items"], f"{path}[]")
    return found


def _version() -> dict[str, Any]:
    return crd.build_crd()["spec"]["versions"][0]  # type: ignore[no-any-return]


def test_committed_crd_file_equals_generated_output() -> None:
    assert CRD_FILE.read_text() == crd.render_yaml()


def test_every_spec_and_status_field_has_a_description() -> None:
    root = _version()["schema"]["openAPIV3Schema"]
    fields = _walk(root["properties"]["spec"], "spec") + _walk(
        root["properties"]["status"], "status"
    )
    missing = [
        path for path, node in fields if not path.endswith("[]") and not node.get("description")
    ]
    assert missing == []
    assert len(fields) > 80


def test_crd_has_names_subresources_and_printer_columns() -> None:
    built = crd.build_crd()
    assert built["spec"]["names"]["shortNames"] == ["rag"]
    assert built["spec"]["names"]["categories"] == ["ai"]
    version = _version()
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"
    assert version["subresources"]["scale"]["labelSelectorPath"] == ".status.selector"
    columns = [column["name"] for column in version["additionalPrinterColumns"]]
    assert columns == ["Ready", "Replicas", "Model", "Index", "Last Backup", "Age"]


def test_cel_messages_cover_the_documented_rules() -> None:
    text = yaml.safe_dump(crd.build_crd(), width=1_000_000)
    for message in (
        "autoscaling.minReplicas must be <= autoscaling.maxReplicas",
        "backup.schedule must be a 5-field cron expression",
        "knowledge.refreshSchedule must be a 5-field cron expression",
        "model.apiKey needs exactly one of secretRef or sealed",
        "database needs exactly one of external or managed",
        "ipBlock.cidr must be a CIDR",
        "a networkPolicy.endpoints peer takes an ipBlock or pod/namespace selectors",
        "auth.jwt needs exactly one of jwksURL (RS256/ES256) or hs256SecretRef (HS256)",
        "auth.jwt.jwksURL must be an https:// URL",
        "backup.objectStorage needs backup.encryption: backups leave the cluster encrypted",
        "backup.encryption.recipients must be age public keys (age1...)",
        "backup.objectStorage.endpoint must be http(s)://host[:port]",
        "backup.objectStorage.bucket must be an S3 bucket name",
    ):
        assert message in text


@pytest.mark.parametrize(
    ("cidr", "valid"),
    [
        ("10.0.0.0/8", True),
        ("203.0.113.7/32", True),
        ("2001:db8::/64", True),
        ("::/0", True),
        ("10.0.0.0", False),
        ("10.0.0.256/8", False),
        ("10.0.0.0/33", False),
        ("llm.example.com/24", False),
        ("2001:db8::/129", False),
    ],
)
def test_ip_block_rule_accepts_cidrs_only(cidr: str, valid: bool) -> None:
    """The CEL rule's regular expression, read with RE2's search semantics (anchored by ^$)."""
    assert (re.search(spec_network.CIDR_RE, cidr) is not None) is valid


def test_spec_model_applies_defaults_for_a_minimal_resource() -> None:
    parsed = spec.RagAgentSpec.model_validate({"database": {"managed": {}}})
    assert parsed.replicas == 2
    assert parsed.network_policy.enabled is True
    assert parsed.backup.schedule == "0 3 * * *"
    assert parsed.database.managed is not None
    assert parsed.database.managed.storage == "10Gi"


def test_spec_model_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="replicaz"):
        spec.RagAgentSpec.model_validate({"database": {"managed": {}}, "replicaz": 3})
