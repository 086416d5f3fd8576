"""The managed database's certificates on the real control plane, under the RBAC in
manifests/rbac: the operator writes the owned <name>-postgres-tls Secret, the pods mount
what render.postgres_tls says, and a resync keeps good material instead of rewriting it."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography import x509

from tests.operator.integration.agents import PLAIN_MANAGED, apply, rag, wait_for_secret
from tests.operator.integration.harness import RESYNC_SECONDS, Operator, get_json, wait_for
from tests.support import controlplane

pytestmark = pytest.mark.k8s


def test_the_operator_issues_and_keeps_the_managed_databases_certificates(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    assert apply(cluster, namespace, rag("tls", **PLAIN_MANAGED)).returncode == 0
    secret = wait_for_secret(cluster, namespace, "tls-postgres-tls", "the TLS Secret", operator)
    assert set(secret["data"]) == {"ca.crt", "ca.key", "tls.crt", "tls.key"}
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "RagAgent"
    server = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"tls-postgres.{namespace}.svc" in names.get_values_for_type(x509.DNSName)
    sts = wait_for(
        lambda: get_json(cluster, "statefulset", "tls-postgres", "-n", namespace),
        "the database StatefulSet",
        operator=operator,
    )
    assert [c["name"] for c in sts["spec"]["template"]["spec"]["containers"]] == ["postgres", "tls"]
    time.sleep(2 * RESYNC_SECONDS)
    again = get_json(cluster, "secret", "tls-postgres-tls", "-n", namespace)
    assert again["metadata"]["resourceVersion"] == secret["metadata"]["resourceVersion"]
