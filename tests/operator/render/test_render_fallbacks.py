"""Fallback LLM providers (spec.model.fallbacks) reach the agent pod: their URLs and models
through the ConfigMap, their keys by Secret reference only, and egress to their ports."""

from __future__ import annotations

from typing import Any

from ragagent.core.config import load_settings
from ragagent.core.llm_settings import MAX_FALLBACKS
from ragagent_operator import crd
from ragagent_operator.render import configmap, deployment, secrets
from tests.operator.render import netpol
from tests.operator.render.netpol_world import INTERNET, LLM, make_agent, pods_of, policies_of

PRIMARY = {"name": "llm", "key": "primary"}
FALLBACKS: list[dict[str, Any]] = [
    {
        "baseURL": "http://llm.models.svc:8080/v1",
        "apiKey": {"secretRef": {"name": "llm", "key": "b"}},
    },
    {"baseURL": "https://backup-llm.example:9443/v1", "chatModel": "small"},
]


def with_fallbacks(fallbacks: list[dict[str, Any]] = FALLBACKS) -> Any:
    model = {"provider": "openai", "apiKey": {"secretRef": PRIMARY}, "fallbacks": fallbacks}
    return make_agent(model=model)


def agent_env(agent: Any) -> list[dict[str, Any]]:
    return deployment.agent_env(agent)


def test_fallback_urls_and_models_go_into_the_configmap_in_order() -> None:
    data = configmap.build_config_map(with_fallbacks())["data"]
    assert data["RAGAGENT_LLM_FALLBACK_1_BASE_URL"] == "http://llm.models.svc:8080/v1"
    assert "RAGAGENT_LLM_FALLBACK_1_MODEL" not in data  # the agent uses model.chatModel
    assert data["RAGAGENT_LLM_FALLBACK_2_BASE_URL"] == "https://backup-llm.example:9443/v1"
    assert data["RAGAGENT_LLM_FALLBACK_2_MODEL"] == "small"
    assert not any("API_KEY" in name for name in data)


def test_a_fallback_key_reaches_the_pod_by_secret_reference_only() -> None:
    env = {var["name"]: var for var in agent_env(with_fallbacks())}
    key = env["RAGAGENT_LLM_FALLBACK_1_API_KEY"]
    assert key["valueFrom"]["secretKeyRef"] == {"name": "llm", "key": "b"}
    assert "RAGAGENT_LLM_FALLBACK_2_API_KEY" not in env
    referenced = {(ref.secret, ref.key) for ref in secrets.secret_refs(with_fallbacks())}
    assert ("llm", "b") in referenced  # so it is hashed and must carry ragagent.dev/use=true


def test_the_agent_reads_the_rendered_fallbacks_back() -> None:
    agent = with_fallbacks()
    values = dict(configmap.build_config_map(agent)["data"])
    settings = load_settings(
        **{name.removeprefix("RAGAGENT_").lower(): value for name, value in values.items()
           if name.startswith("RAGAGENT_LLM_FALLBACK")},
        openai_base_url="https://primary.example/v1",
    )  # fmt: skip
    assert settings.fallback(2)[:2] == ("https://backup-llm.example:9443/v1", "small")


def test_the_agent_pod_reaches_each_fallback_port() -> None:
    agent = with_fallbacks()
    agent_pod, policies = pods_of(agent)["agent"], policies_of(agent)
    assert netpol.allows(policies, agent_pod, LLM, "TCP", 8080)
    assert netpol.allows(policies, agent_pod, INTERNET, "TCP", 9443)


def test_the_crd_allows_at_most_as_many_fallbacks_as_the_agent_reads() -> None:
    version = crd.build_crd()["spec"]["versions"][0]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    fallbacks = spec["properties"]["model"]["properties"]["fallbacks"]
    assert fallbacks["maxItems"] == MAX_FALLBACKS == 2
