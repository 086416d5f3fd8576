"""PodDisruptionBudget: voluntary evictions take at most one agent pod at a time."""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator.render import common


def build_pdb(agent: common.Agent) -> common.Manifest:
    spec = {"maxUnavailable": 1, "selector": common.match_labels(agent, c.COMPONENT_AGENT)}
    return common.child("policy/v1", "PodDisruptionBudget", common.agent_metadata(agent), spec=spec)
