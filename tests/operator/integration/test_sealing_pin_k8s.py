"""A pinned sealing certificate on the real control plane: any other certificate (here the
cluster's own, pinned to another fingerprint) is refused with a condition and nothing is sealed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragagent_operator import sealing
from tests.charts.chart_cluster import start_chart_operator
from tests.operator.integration.agents import condition
from tests.operator.integration.harness import get_json, stop, wait_for
from tests.operator.integration.test_sealing_gauge_k8s import (
    PRIORITY,
    database_secret,
    sealed_agent,
)
from tests.support import controlplane

pytestmark = pytest.mark.k8s


def test_a_certificate_other_than_the_pinned_one_seals_nothing(
    cluster: controlplane.ControlPlane, namespace: str, installed: Path
) -> None:
    actual = sealing.cert_fingerprint(cluster.sealing_cert_path.read_bytes())
    pin = "0" * 64
    env = {
        "RAGAGENT_OPERATOR_NAMESPACES": namespace,
        "RAGAGENT_OPERATOR_PRIORITY": str(PRIORITY),
        "RAGAGENT_OPERATOR_SEALED_SECRETS_CERT_SHA256": ":".join(["00"] * 32),
    }
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=database_secret("docs"))
    operator = start_chart_operator(cluster, env, installed)
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=sealed_agent("docs"))

        def refused() -> dict[str, str] | None:
            found = condition(cluster, namespace, "SecretsReady")
            return found if found.get("reason") == "SealingCertificatePinMismatch" else None

        found = wait_for(
            refused, "SecretsReady=False/SealingCertificatePinMismatch", operator=operator
        )
        # Checked while this replica is still the active one: once it stops, the session's
        # cluster-wide operator (unpinned) resumes and would seal this RagAgent's values.
        sealed = get_json(cluster, "sealedsecret", "docs-generated", "-n", namespace)
    finally:
        stop(operator)
    assert found["status"] == "False"
    assert actual in found["message"]
    assert pin in found["message"]
    assert sealed is None
