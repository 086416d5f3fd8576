"""The agent Service: the app port and the metrics port."""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator.render import common


def build_service(agent: common.Agent) -> common.Manifest:
    ports = [
        {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}
        for name, port in (("http", c.APP_PORT), ("metrics", c.METRICS_PORT))
    ]
    spec = {
        "type": "ClusterIP",
        "selector": common.selector_labels(agent, c.COMPONENT_AGENT),
        "ports": ports,
    }
    return common.child("v1", "Service", common.agent_metadata(agent), spec=spec)


# Probes send this Host (see deployment._probe): the kubelet's default is the pod IP,
# which no allowed-hosts list can name ahead of time. kubectl port-forward sends it too.
LOCAL_HOST = "localhost"


def build_allowed_hosts(agent: common.Agent) -> list[str]:
    """The Host names the agent accepts: its Service's DNS names, spec.network.hosts and
    localhost. Anything else, a pod IP included, gets 400 from the agent."""
    name, namespace = agent.name, agent.namespace
    service = [name, f"{name}.{namespace}", f"{name}.{namespace}.svc"]
    service.append(f"{name}.{namespace}.svc.{agent.cluster_domain}")
    return [*service, *agent.spec.network.hosts, LOCAL_HOST]


def build_endpoints(agent: common.Agent) -> dict[str, str]:
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
