"""Sealing on the real control plane: the certificate's expiry gauge, the certificate pin and
an expired certificate.

After a restart every generated value is already sealed, so nothing is sealed again; the gauge
behind the certificate expiry alert must still be exported by the new process. A pinned
certificate refuses any other (here the cluster's own, pinned to another fingerprint) with a
condition, and nothing is sealed; so does an expired certificate.
"""

from __future__ import annotations

import datetime
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from ragagent_operator import sealing
from tests.charts.chart_cluster import start_chart_operator
from tests.operator.integration.agents import DATABASE_URL, condition
from tests.operator.integration.harness import Operator, get_json, stop, wait_for
from tests.operator.test_sealing_certificate import cert_between
from tests.support import controlplane, pki

pytestmark = pytest.mark.k8s
GAUGE = "ragagent_operator_sealing_cert_expiry_timestamp_seconds"
# Above any other replica's (random ones stay below 2**30), so this test's is the active one.
PRIORITY = 2**31 - 1


def sealed_agent(name: str) -> str:
    """A RagAgent on an external database whose generated values are sealed."""
    body = {
        "apiVersion": "ragagent.dev/v1alpha1",
        "kind": "RagAgent",
        "metadata": {"name": name},
        "spec": {
            "database": {"external": {"secretRef": {"name": f"{name}-pg", "key": "url"}}},
            "secrets": {"provider": "sealedSecrets"},
        },
    }
    return yaml.safe_dump(body)


def database_secret(name: str) -> str:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-pg", "labels": {"ragagent.dev/use": "true"}},
        "stringData": {"url": DATABASE_URL},
    }
    return json.dumps(body)


def gauge_value(operator: Operator) -> float | None:
    """The gauge's value in this operator's own /metrics, or None while it is absent."""
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        lines = response.read().decode().splitlines()
    values = [float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(GAUGE + "{")]
    return values[0] if values else None


def encrypted_data(cluster: controlplane.ControlPlane, ns: str, name: str) -> dict[str, Any]:
    sealed = get_json(cluster, "sealedsecret", f"{name}-generated", "-n", ns) or {}
    return dict((sealed.get("spec") or {}).get("encryptedData") or {})


def start_for(
    cluster: controlplane.ControlPlane, kubeconfig: Path, ns: str, **settings: str
) -> Operator:
    """An operator watching only ``ns``, so every reconcile it makes is of this test's agent;
    ``settings`` are more of its environment variables."""
    env = {"RAGAGENT_OPERATOR_NAMESPACES": ns, "RAGAGENT_OPERATOR_PRIORITY": str(PRIORITY)}
    return start_chart_operator(cluster, env | settings, kubeconfig)


def test_sealing_cert_gauge_is_exported_after_a_restart_without_sealing_again(
    cluster: controlplane.ControlPlane, namespace: str, installed: Path
) -> None:
    expiry = sealing.cert_expiry(cluster.sealing_cert_path.read_bytes()).timestamp()
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=database_secret("docs"))
    first = start_for(cluster, installed, namespace)
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=sealed_agent("docs"))
        sealed = wait_for(
            lambda: encrypted_data(cluster, namespace, "docs"), "sealed values", operator=first
        )
        assert gauge_value(first) == expiry
    finally:
        stop(first)
    second = start_for(cluster, installed, namespace)
    try:
        found = wait_for(lambda: gauge_value(second), "gauge after restart", operator=second)
    finally:
        stop(second)
    assert found == expiry
    # Sealing anew would have produced other ciphertexts (a fresh session key each time).
    assert encrypted_data(cluster, namespace, "docs") == sealed


def test_a_certificate_other_than_the_pinned_one_seals_nothing(
    cluster: controlplane.ControlPlane, namespace: str, installed: Path
) -> None:
    actual = sealing.cert_fingerprint(cluster.sealing_cert_path.read_bytes())
    pin = "0" * 64
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=database_secret("docs"))
    operator = start_for(
        cluster,
        installed,
        namespace,
        RAGAGENT_OPERATOR_SEALED_SECRETS_CERT_SHA256=":".join(["00"] * 32),
    )
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=sealed_agent("docs"))
        found = refused_with(cluster, namespace, operator, "SealingCertificatePinMismatch")
    finally:
        stop(operator)
    assert found["status"] == "False"
    assert actual in found["message"]
    assert pin in found["message"]


def refused_with(
    cluster: controlplane.ControlPlane, ns: str, operator: Operator, reason: str
) -> dict[str, Any]:
    """SecretsReady once it is False for ``reason``; no SealedSecret is checked while this
    replica is still the active one: once it stops, the session's cluster-wide operator
    (unpinned, fetching the cluster's valid certificate) resumes and would seal the values."""

    def refused() -> dict[str, Any] | None:
        found = condition(cluster, ns, "SecretsReady")
        return found if found.get("reason") == reason else None

    found = dict(wait_for(refused, f"SecretsReady=False/{reason}", operator=operator))
    assert get_json(cluster, "sealedsecret", "docs-generated", "-n", ns) is None
    return found


def test_an_expired_sealing_certificate_seals_nothing_and_says_when_it_expired(
    cluster: controlplane.ControlPlane, namespace: str, installed: Path, tmp_path: Path
) -> None:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    expired_at = now - datetime.timedelta(days=1)
    cert = tmp_path / "expired-cert.pem"
    cert.write_bytes(cert_between(pki.new_key(), now - datetime.timedelta(days=30), expired_at))
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=database_secret("docs"))
    operator = start_for(
        cluster, installed, namespace, RAGAGENT_OPERATOR_SEALED_SECRETS_CERT_FILE=str(cert)
    )
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=sealed_agent("docs"))
        found = refused_with(cluster, namespace, operator, "SealingCertificateExpired")
        ready = condition(cluster, namespace, "Ready")
    finally:
        stop(operator)
    assert found["status"] == "False"
    assert f"notAfter {expired_at.isoformat()}" in found["message"]
    assert ready["status"] == "False"
