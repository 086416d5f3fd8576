"""Missing prerequisites on a second, bare control plane: no sealed-secrets CRD or controller.

The session's cluster has sealed-secrets, and removing its CRD there would break the other
tests, so this module starts its own control plane (about ten seconds) and its own operator.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.operator.integration.agents import agent_with_condition
from tests.operator.integration.harness import (
    RESYNC_SECONDS,
    Operator,
    assert_workload_children,
    get_json,
    grant_secrets,
    install,
    start_operator,
    stop,
)
from tests.support import controlplane

pytestmark = pytest.mark.k8s
NAMESPACE = "agents"


@pytest.fixture(scope="module")
def bare(cluster: controlplane.ControlPlane) -> Iterator[controlplane.ControlPlane]:
    """A control plane without sealed-secrets (``cluster`` first: it skips when tools lack)."""
    with controlplane.ControlPlane(sealed_secrets=False) as plane:
        plane.kubectl("create", "namespace", NAMESPACE)
        plane.wait_for_service_account("default", NAMESPACE)
        yield plane


@pytest.fixture(scope="module")
def bare_operator(bare: controlplane.ControlPlane) -> Iterator[Operator]:
    kubeconfig = install(bare)
    grant_secrets(bare, NAMESPACE)
    running = start_operator(bare, kubeconfig, "bare")
    yield running
    stop(running)


def conditions(cluster: controlplane.ControlPlane, name: str) -> dict[str, dict[str, Any]]:
    body = get_json(cluster, "ragagent", name, "-n", NAMESPACE) or {}
    return {cond["type"]: cond for cond in (body.get("status") or {}).get("conditions") or []}


def test_missing_sealed_secrets_crd_is_a_condition_and_the_rest_is_reconciled(
    bare: controlplane.ControlPlane, bare_operator: Operator
) -> None:
    assert get_json(bare, "crd", "sealedsecrets.bitnami.com") is None
    secrets_ready = agent_with_condition(bare, NAMESPACE, bare_operator, "SecretsReady", "False")
    assert secrets_ready["reason"] == "SealedSecretsCRDMissing"
    assert "set spec.secrets.provider: kubernetes" in secrets_ready["message"]
    assert_workload_children(bare, NAMESPACE)  # the steps that need no Secret still ran
    monitoring = conditions(bare, "docs")["MonitoringReady"]
    assert monitoring["reason"] == "PrometheusOperatorMissing"
    time.sleep(3 * RESYNC_SECONDS)  # several resyncs later: still running, still saying why
    assert bare_operator.process.poll() is None
    assert conditions(bare, "docs")["SecretsReady"]["reason"] == "SealedSecretsCRDMissing"


def test_plain_secrets_are_the_explicit_way_out_without_sealed_secrets(
    bare: controlplane.ControlPlane, bare_operator: Operator
) -> None:
    plain = {"provider": "kubernetes"}
    agent_with_condition(
        bare, NAMESPACE, bare_operator, "SecretsReady", "True", name="plain", secrets=plain
    )
    assert get_json(bare, "secret", "plain-generated", "-n", NAMESPACE) is not None
