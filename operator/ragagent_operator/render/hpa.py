"""HorizontalPodAutoscaler (autoscaling/v2) on CPU, with an optional behavior block."""

from __future__ import annotations

from typing import Any

from ragagent_operator.render import common


def build_hpa(agent: common.Agent) -> common.Manifest:
    """Only rendered when ``spec.autoscaling.enabled``; the reconciler deletes it otherwise."""
    scaling = agent.spec.autoscaling
    spec: dict[str, Any] = {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": common.name_of(agent),
        },
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
    meta = common.agent_metadata(agent)
    return common.child("autoscaling/v2", "HorizontalPodAutoscaler", meta, spec=spec)
