"""Ready warns, without turning False, when an agent in production keeps unencrypted backups."""

from __future__ import annotations

from typing import Any

import pytest

from ragagent_operator import conditions
from ragagent_operator.render import backup
from ragagent_operator.render.common import Agent, build_agent

KEY = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
DEMO_AUTH = {"mode": "none", "allowUnauthenticated": True}
ENCRYPTED = {"enabled": True, "encryption": {"recipients": [KEY]}}


def make_agent(**spec: Any) -> Agent:
    spec.setdefault("database", {"managed": {}})
    body = {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test")


JWT_AUTH = {
    "mode": "jwt",
    "jwt": {
        "issuer": "https://id.example.com",
        "audience": "ragagent",
        "jwksURL": "https://id.example.com/jwks",
    },
}


@pytest.mark.parametrize(
    ("spec", "warned"),
    [
        ({"backup": {"enabled": True}}, True),
        ({"backup": {"enabled": True}, "auth": JWT_AUTH}, True),
        ({"backup": ENCRYPTED}, False),
        ({"backup": {"enabled": False}}, False),
        ({"backup": {"enabled": True}, "auth": DEMO_AUTH}, False),  # development mode
    ],
)
def test_only_unencrypted_backups_of_an_agent_in_production_are_warned_of(
    spec: dict[str, Any], warned: bool
) -> None:
    warnings = backup.build_backup_warnings(make_agent(**spec))
    assert warnings == ([backup.UNENCRYPTED_WARNING] if warned else [])


def ready_inputs(status: bool) -> dict[str, conditions.Condition]:
    return {
        kind: conditions.build_condition(kind, status, "Ok") for kind in conditions.READY_INPUTS
    }


def test_a_warning_ends_a_true_ready_message_and_changes_nothing_else() -> None:
    plain = conditions.build_ready(ready_inputs(True))
    warned = conditions.build_ready(ready_inputs(True), [backup.UNENCRYPTED_WARNING])
    assert {**warned, "message": ""} == {**plain, "message": ""}  # True, AgentReady
    assert warned["message"] == f"the agent serves traffic; {backup.UNENCRYPTED_WARNING}"
    assert "spec.backup.encryption.recipients" in warned["message"]


def test_a_ready_that_waits_says_what_it_waits_for_only() -> None:
    waiting = conditions.build_ready(ready_inputs(False), [backup.UNENCRYPTED_WARNING])
    assert waiting["status"] == "False"
    assert waiting["message"].startswith("waiting for DeploymentAvailable")
    assert "warning" not in waiting["message"]
