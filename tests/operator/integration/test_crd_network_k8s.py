"""The real API server checks spec.network (server-side dry runs): host names and proxy CIDRs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.operator.integration.agents import rag
from tests.support import controlplane

pytestmark = pytest.mark.k8s


def dry_run(cluster: controlplane.ControlPlane, namespace: str, network: Any) -> tuple[int, str]:
    text = rag("network-check", database={"managed": {}}, network=network)
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=text, check=False
    )
    return result.returncode, result.stderr


@pytest.mark.parametrize(
    ("network", "message"),
    [
        ({"hosts": ["Rag.Example.com"]}, "network.hosts must be lower-case DNS names"),
        ({"hosts": ["rag.example.com:443"]}, "network.hosts must be lower-case DNS names"),
        ({"hosts": ["*"]}, "network.hosts must be lower-case DNS names"),
        ({"trustedProxies": ["10.0.0.1"]}, "network.trustedProxies must list CIDRs"),
        ({"trustedProxies": ["*"]}, "network.trustedProxies must list CIDRs"),
    ],
)
def test_bad_hosts_and_proxies_are_refused(
    cluster: controlplane.ControlPlane,
    namespace: str,
    installed: object,
    network: dict[str, Any],
    message: str,
) -> None:
    returncode, stderr = dry_run(cluster, namespace, network)
    assert returncode != 0
    assert message in stderr


def test_dns_names_wildcards_and_cidrs_are_accepted(
    cluster: controlplane.ControlPlane, namespace: str, installed: object
) -> None:
    network = {
        "hosts": ["rag.example.com", "*.chat.example.com", "localhost"],
        "trustedProxies": ["10.244.0.0/16", "203.0.113.7/32", "2001:db8::/64"],
    }
    returncode, stderr = dry_run(cluster, namespace, network)
    assert returncode == 0, stderr
