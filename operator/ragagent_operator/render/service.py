"""The agent Service: the app port and the metrics port."""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator.render.common import Agent, Manifest, metadata, name_of, selector_labels


def build_service(agent: Agent) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(agent, name_of(agent), c.COMPONENT_AGENT),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(agent, c.COMPONENT_AGENT),
            "ports": [
                {"name": "http", "port": c.APP_PORT, "targetPort": "http", "protocol": "TCP"},
                {
                    "name": "metrics",
                    "port": c.METRICS_PORT,
                    "targetPort": "metrics",
                    "protocol": "TCP",
                },
            ],
        },
    }


def build_endpoints(agent: Agent) -> dict[str, str]:
    """In-cluster URLs for status.endpoints: the agent's own routes (tested against its app).

    The OpenAI-compatible routes (``/v1/chat/completions``, ``/v1/models``) share the
    REST API's ``/v1`` prefix, so both base URLs are the same.
    """
    host = f"{agent.name}.{agent.namespace}.svc.{agent.cluster_domain}:{c.APP_PORT}"
    return {
        "rest": f"http://{host}/v1",
        "websocket": f"ws://{host}/v1/ws/chat",
        "openaiBaseURL": f"http://{host}/v1",
    }
