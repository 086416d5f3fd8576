"""The agent's ServiceAccount: the pods never talk to the API server, so no token is mounted."""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator.render.common import Agent, Manifest, metadata, name_of


def build_service_account(agent: Agent) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(agent, name_of(agent), c.COMPONENT_AGENT),
        "automountServiceAccountToken": False,
    }
