"""The operator chart on the real node: values for a ``helm install`` that runs the built
operator image there, and how to tell which replica is active."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.e2e import manifests
from tests.support import controlplane, images, peering

RELEASE = "ragagent"
# Its own peering object, so no other operator of the session (a host process under
# manifests/rbac uses ``ragagent``) takes part in the election.
PEERING = "ragagent-e2e"
PEERING_LIFETIME_SECONDS = 15
RESYNC_SECONDS = 5
SELECTOR = f"app.kubernetes.io/instance={RELEASE}"
# values.yaml's default: the namespace whose pods the agents' policies let scrape :9090.
MONITORING_NAMESPACE = "monitoring"


def build_values(
    refs: images.ImageRefs, *, node_name: str, api_port: int, watch: str
) -> dict[str, Any]:
    """Two replicas of the built image, pinned to the real node, watching namespace
    ``watch`` (namespaced mode, the chart's default). The API server listens on a random
    port, which the operator's NetworkPolicy must let it reach."""
    repository, tag = refs.operator.rsplit(":", 1)
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "replicaCount": 2,
        "watchNamespaces": [watch],
        "defaultAgentImage": refs.agent,
        "peering": {"name": PEERING, "lifetimeSeconds": PEERING_LIFETIME_SECONDS},
        "extraEnv": [{"name": "RAGAGENT_OPERATOR_RESYNC_SECONDS", "value": str(RESYNC_SECONDS)}],
        "networkPolicy": {"apiServerPorts": [443, api_port]},
        **manifests.build_real_node_scheduling(node_name),
    }


def api_port(cluster: controlplane.ControlPlane) -> int:
    return int(cluster.server.rsplit(":", 1)[1])


def live_peers(cluster: controlplane.ControlPlane, name: str) -> dict[str, int]:
    """Identity -> priority of the live records in the peering object ``name``."""
    body = cluster.kubectl("get", "clusterkopfpeering", name, "-o", "json", check=False)
    found = json.loads(body.stdout) if body.returncode == 0 else None
    return peering.live_priorities(found, datetime.now(UTC))
