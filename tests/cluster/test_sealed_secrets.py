"""The running sealed-secrets controller unseals what `kubeseal --cert` sealed with our key."""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

import pytest

from tests.support import controlplane
from tests.support.processes import wait_until

pytestmark = pytest.mark.k8s


def build_secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace},
        "data": encoded,
    }


def kubeseal(cluster: controlplane.ControlPlane, *args: str, stdin: str) -> str:
    argv = [str(cluster.tool("kubeseal")), *args]
    result = subprocess.run(
        argv, input=stdin, env=cluster.env(), capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def secret_data(
    cluster: controlplane.ControlPlane, name: str, namespace: str
) -> dict[str, str] | None:
    """The Secret's decoded data, or None while it does not exist."""
    result = cluster.kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        return None
    data = json.loads(result.stdout).get("data", {})
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def test_sealed_secret_from_kubeseal_cert_is_unsealed_by_the_controller(
    cluster: controlplane.ControlPlane, namespace: str
) -> None:
    secret = build_secret("db-credentials", namespace, {"password": "s3cret", "user": "rag"})
    sealed = kubeseal(
        cluster, "--cert", str(cluster.sealing_cert_path), "-o", "json", stdin=json.dumps(secret)
    )
    assert "s3cret" not in sealed

    cluster.kubectl("apply", "-f", "-", input=sealed)

    wait_until(
        "the unsealed Secret",
        lambda: secret_data(cluster, "db-credentials", namespace) is not None,
        timeout=30,
    )
    assert secret_data(cluster, "db-credentials", namespace) == {
        "password": "s3cret",
        "user": "rag",
    }
    synced = "jsonpath={.status.conditions[?(@.type=='Synced')].status}"
    status = cluster.kubectl("get", "sealedsecret", "db-credentials", "-n", namespace, "-o", synced)
    assert status.stdout == "True"


def test_known_private_key_recovers_a_sealed_secret_offline(
    cluster: controlplane.ControlPlane, namespace: str
) -> None:
    secret = build_secret("offline", namespace, {"token": "abc"})
    sealed = kubeseal(
        cluster, "--cert", str(cluster.sealing_cert_path), "-o", "json", stdin=json.dumps(secret)
    )

    recovered = kubeseal(
        cluster,
        "--recovery-unseal",
        "--recovery-private-key",
        str(cluster.sealing_key_path),
        "-o",
        "json",
        stdin=sealed,
    )

    assert json.loads(recovered)["data"] == secret["data"]
