"""Pure render tests for where the agent keeps its rate-limit counters (spec.rateLimit.storage).

With more than one possible replica, per-pod counters would allow N times the limits and
reset on every roll, so auto picks the agent's own database; one pod keeps them in memory.
"""

from __future__ import annotations

from typing import Any

import pytest

from ragagent.core.config import load_settings
from ragagent_operator.render import configmap
from ragagent_operator.render.common import Agent, build_agent

STORAGE = "RAGAGENT_RATE_LIMIT_STORAGE"


def make_agent(**spec: Any) -> Agent:
    spec.setdefault("database", {"managed": {}})
    body = {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test")


def storage_of(agent: Agent) -> str:
    return configmap.build_config_map(agent)["data"][STORAGE]  # type: ignore[no-any-return]


def test_the_default_ragagent_shares_its_counters_in_postgres() -> None:
    agent = make_agent()
    assert agent.spec.rate_limit.storage == "auto"
    assert agent.spec.replicas == 2
    assert storage_of(agent) == "postgres"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": 1}, "memory"),
        ({"replicas": 0}, "memory"),
        ({"replicas": 3}, "postgres"),
        # The HPA owns the count: its maximum decides, whatever spec.replicas says.
        ({"replicas": 1, "autoscaling": {"enabled": True, "minReplicas": 1}}, "postgres"),
        (
            {"replicas": 5, "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 1}},
            "memory",
        ),
    ],
)
def test_auto_picks_postgres_exactly_when_a_second_pod_may_run(
    spec: dict[str, Any], expected: str
) -> None:
    assert storage_of(make_agent(**spec)) == expected


@pytest.mark.parametrize("choice", ["memory", "postgres"])
def test_an_explicit_choice_wins_over_the_replica_count(choice: str) -> None:
    for replicas in (1, 4):
        agent = make_agent(replicas=replicas, rateLimit={"storage": choice})
        assert storage_of(agent) == choice


def test_the_rendered_choice_is_one_the_agent_reads_back(monkeypatch: pytest.MonkeyPatch) -> None:
    data = configmap.build_config_map(make_agent(replicas=3))["data"]
    monkeypatch.setenv(STORAGE, data[STORAGE])
    settings = load_settings()
    assert settings.rate_limit_storage == "postgres"
    assert settings.rate_limit_storage_url is None
