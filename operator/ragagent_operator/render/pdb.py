"""PodDisruptionBudget: voluntary evictions take at most one agent pod at a time."""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator.render.common import Agent, Manifest, metadata, name_of, selector_labels


def build_pdb(agent: Agent) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(agent, name_of(agent), c.COMPONENT_AGENT),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(agent, c.COMPONENT_AGENT)},
        },
    }
