"""An external database URL the agent would refuse for its TLS is reported before any pod
crash-loops, and tlsWaived accepts it (the real control plane and operator)."""

from __future__ import annotations

import pytest

from tests.operator.integration.agents import apply, condition, db_secret, patch_agent, rag
from tests.operator.integration.harness import Operator, get_json, wait_for
from tests.support import controlplane

pytestmark = pytest.mark.k8s

PLAIN_URL = "postgresql://u:secret-pw@db.example:5432/rag?sslmode=require"
WAIVER = "RAGAGENT_DATABASE_TLS_WAIVED"


def test_an_unverified_external_database_is_reported_until_waived(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    db_secret(cluster, namespace, "docs-pg", PLAIN_URL)
    assert apply(cluster, namespace, rag("docs")).returncode == 0

    def refused() -> dict[str, str] | None:
        found = condition(cluster, namespace, "DatabaseReady")
        return found if found.get("reason") == "DatabaseTLSNotVerified" else None

    database = wait_for(refused, "DatabaseReady=False DatabaseTLSNotVerified", operator=operator)
    assert database["status"] == "False"
    assert "must require sslmode=verify-full" in database["message"]
    assert "spec.database.external.tlsWaived: true" in database["message"]
    assert "secret-pw" not in database["message"]
    assert condition(cluster, namespace, "Ready")["status"] == "False"
    config = get_json(cluster, "configmap", "docs-config", "-n", namespace)
    assert WAIVER not in config["data"]

    patch_agent(cluster, namespace, {"spec": {"database": {"external": {"tlsWaived": True}}}})

    def accepted() -> dict[str, str] | None:
        found = condition(cluster, namespace, "DatabaseReady")
        return found if found.get("reason") == "ExternalDatabase" else None

    assert wait_for(accepted, "DatabaseReady=True once waived", operator=operator)["status"]
    config = get_json(cluster, "configmap", "docs-config", "-n", namespace)
    assert config["data"][WAIVER] == "true"
