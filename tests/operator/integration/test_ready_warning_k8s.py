"""On the real control plane: Ready warns while an agent in production keeps unencrypted backups,
stays True, and drops the warning once the backups are encrypted."""

from __future__ import annotations

from typing import Any

import pytest

from ragagent_operator.render import backup
from tests.operator.integration import agents, harness
from tests.support import controlplane

pytestmark = pytest.mark.k8s


def test_ready_warns_of_unencrypted_backups_until_they_are_encrypted(
    cluster: controlplane.ControlPlane, namespace: str, operator: harness.Operator
) -> None:
    def ready_saying(message: str) -> dict[str, Any] | None:
        found = agents.condition(cluster, namespace, "Ready")
        return found if found.get("status") == "True" and found["message"] == message else None

    def wait_ready(message: str) -> None:
        found = harness.wait_for(lambda: ready_saying(message), message, operator=operator)
        assert found["reason"] == "AgentReady"

    plain = {"enabled": True, "schedule": "0 3 * * *"}
    agents.agent_with_condition(
        cluster, namespace, operator, "Ready", "True", timeout=90, backup=plain
    )
    # Polled: a status-only refresh can make Ready True before the full reconcile's status.
    wait_ready(f"the agent serves traffic; {backup.UNENCRYPTED_WARNING}")
    key = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    encrypted = {"backup": {"encryption": {"recipients": [key]}}}
    agents.patch_agent(cluster, namespace, {"spec": encrypted})
    wait_ready("the agent serves traffic")
