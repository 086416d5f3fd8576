"""The agent Deployment: hardened pods, probes, graceful drain and a roll-on-change hash."""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import common, configmap, postgres_tls, secrets, service

PRESTOP_SLEEP_SECONDS = 5
# Seconds between the end of the agent's drain and the kubelet's SIGKILL: for exit.
EXIT_MARGIN_SECONDS = 10
DEFAULT_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "250m", "memory": "512Mi"},
    "limits": {"memory": "1Gi"},
}


def build_deployment(
    agent: common.Agent, *, config_hash: str, secrets_hash: str
) -> common.Manifest:
    """The Deployment. ``replicas`` is omitted while autoscaling is on, so the HPA owns it.

    ``config_hash`` and ``secrets_hash`` go into the pod-template annotations:
    changing the ConfigMap or the data of any referenced Secret rolls the pods.
    """
    spec: dict[str, Any] = {
        "selector": common.match_labels(agent, c.COMPONENT_AGENT),
        "revisionHistoryLimit": 5,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
        "template": {
            "metadata": {
                "labels": common.labels(agent, c.COMPONENT_AGENT),
                "annotations": {
                    c.Annotation.CONFIG_HASH: config_hash,
                    c.Annotation.SECRETS_HASH: secrets_hash,
                },
            },
            "spec": build_pod_spec(agent),
        },
    }
    if not agent.spec.autoscaling.enabled:
        spec = {"replicas": agent.spec.replicas, **spec}
    return common.child("apps/v1", "Deployment", common.agent_metadata(agent), spec=spec)


def build_pod_spec(agent: common.Agent) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "serviceAccountName": common.name_of(agent),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": build_grace_period(agent),
        "securityContext": common.restricted_pod_security(),
        "containers": [build_agent_container(agent)],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            *postgres_tls.build_client_volumes(agent),
        ],
    }
    # Affinity and spread name the agent's own pods, so only placement is shared.
    scheduling = {
        "affinity": agent.spec.affinity,
        "topologySpreadConstraints": agent.spec.topology_spread_constraints,
    }
    pod.update({key: value for key, value in scheduling.items() if value})
    pod.update(common.build_node_placement(agent))
    return pod


def build_grace_period(agent: common.Agent) -> int:
    """The pod's termination grace: preStop, then the agent's whole drain (it finishes
    answers and HTTP requests within shutdownGraceSeconds), then a margin to exit."""
    return PRESTOP_SLEEP_SECONDS + agent.spec.shutdown_grace_seconds + EXIT_MARGIN_SECONDS


def agent_env(agent: common.Agent) -> list[dict[str, Any]]:
    """Secret-backed env variables of the server; everything else comes from the ConfigMap."""
    return secrets.build_env(secrets.secret_refs(agent))


def build_agent_container(agent: common.Agent) -> dict[str, Any]:
    return {
        "name": "agent",
        "image": agent.image,
        "command": ["ragagent"],
        "args": ["serve", "--host", "0.0.0.0", "--port", str(c.APP_PORT)],  # noqa: S104
        "ports": [
            {"name": "http", "containerPort": c.APP_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": c.METRICS_PORT, "protocol": "TCP"},
        ],
        "envFrom": [{"configMapRef": {"name": configmap.config_map_name(agent)}}],
        "env": agent_env(agent),
        "resources": agent.spec.resources or DEFAULT_RESOURCES,
        "securityContext": common.restricted_container_security(),
        # A crash leaves the end of the log as the termination message, which the
        # operator quotes in the Ready condition (pod_health).
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108
            *postgres_tls.build_client_mounts(agent),
        ],
        "startupProbe": _probe("/livez", period=5, failures=30),
        "livenessProbe": _probe("/livez", period=10, failures=3),
        "readinessProbe": _probe("/readyz", period=5, failures=2),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}},
    }


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        # The agent refuses unknown Host headers, and the kubelet's default is the pod IP.
        "httpGet": {
            "path": path,
            "port": "http",
            "httpHeaders": [{"name": "Host", "value": service.LOCAL_HOST}],
        },
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 3,
    }
