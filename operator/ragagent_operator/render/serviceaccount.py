"""The agent's ServiceAccount: the pods never talk to the API server, so no token is mounted."""

from __future__ import annotations

from ragagent_operator.render import common


def build_service_account(agent: common.Agent) -> common.Manifest:
    meta = common.agent_metadata(agent)
    return common.child("v1", "ServiceAccount", meta, automountServiceAccountToken=False)
