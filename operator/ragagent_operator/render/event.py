"""An Event on the RagAgent: how a condition's transition reaches ``kubectl describe``."""

from __future__ import annotations

from ragagent_operator import constants as c
from ragagent_operator.render import common


def build_event(
    agent: common.Agent, *, reason: str, message: str, now: str, warning: bool = False
) -> common.Manifest:
    """A Normal Event, or a Warning one, at ``now`` (RFC 3339); the message is cut at 1000
    characters."""
    stamp = now
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{agent.name}.", "namespace": agent.namespace},
        "involvedObject": {
            "apiVersion": c.API_VERSION,
            "kind": c.KIND,
            "name": agent.name,
            "namespace": agent.namespace,
            "uid": agent.uid,
        },
        "reason": reason,
        "message": message[:1000],
        "type": "Warning" if warning else "Normal",
        "source": {"component": c.MANAGED_BY},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
