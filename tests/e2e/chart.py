"""The operator chart on the real node: values for a ``helm install`` that runs the built
operator image there, and how to tell which replica is active."""

from __future__ import annotations

from typing import Any

from tests.e2e import manifests
from tests.support import controlplane, images

RELEASE = "ragagent"
# Its own peering object, so no other operator of the session (a host process under
# manifests/rbac uses ``ragagent``) takes part in the election.
PEERING = "ragagent-e2e"
PEERING_LIFETIME_SECONDS = 15
RESYNC_SECONDS = 5
# kopf's log line on the replica that yields to a higher priority.
PAUSED = "Pausing operations in favour of"
SELECTOR = f"app.kubernetes.io/instance={RELEASE}"


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
