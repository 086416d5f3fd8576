"""HorizontalPodAutoscaler (autoscaling/v2) on CPU, with an optional behavior block."""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render.common import Agent, Manifest, metadata, name_of


def build_hpa(agent: Agent) -> Manifest:
    """Only rendered when ``spec.autoscaling.enabled``; the reconciler deletes it otherwise."""
    scaling = agent.spec.autoscaling
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name_of(agent)},
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": scaling.target_cpu_utilization_percentage,
                    },
                },
            }
        ],
    }
    if scaling.behavior:
        spec["behavior"] = scaling.behavior
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(agent, name_of(agent), c.COMPONENT_AGENT),
        "spec": spec,
    }
