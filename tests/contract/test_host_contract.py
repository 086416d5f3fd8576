"""The Host names and proxies the operator renders are the ones the agent then accepts.

For every sample and a spec with external hosts and trusted proxies, the agent pod's
environment is loaded by the agent's settings loader, the server's app is built from it,
and requests cross its middleware: the Service's DNS names, spec.network.hosts and the
probes' Host header are answered; any other Host, the pod IP included, gets 400.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ragagent.core import config, server
from ragagent.main import create_app
from ragagent_operator.render.common import Agent
from tests.contract import pod_env, specs
from tests.operator.render.pods import rendered_pods

EXPOSED = {
    "database": {"managed": {}},
    "network": {
        "hosts": ["rag.example.com", "*.chat.example.com"],
        "trustedProxies": ["10.9.0.0/16"],
    },
}
AGENTS = [pytest.param(agent, id=f"sample-{agent.name}") for agent in specs.sample_agents()] + [
    pytest.param(specs.agent_of("docs", EXPOSED), id="exposed")
]


def serve_settings(agent: Agent, monkeypatch: pytest.MonkeyPatch, files: Path) -> config.Settings:
    container = rendered_pods(agent)["agent"]["spec"]["containers"][0]
    world = pod_env.build_world(agent, files)
    with pod_env.process_env(monkeypatch, pod_env.container_env(container, world)):
        return config.load_settings(config.Settings)


def probe_hosts(agent: Agent) -> set[str]:
    container: dict[str, Any] = rendered_pods(agent)["agent"]["spec"]["containers"][0]
    probes = [container[key] for key in ("startupProbe", "livenessProbe", "readinessProbe")]
    return {
        header["value"]
        for probe in probes
        for header in probe["httpGet"]["httpHeaders"]
        if header["name"] == "Host"
    }


@pytest.mark.parametrize("agent", AGENTS)
async def test_the_agent_answers_its_service_names_and_hosts_and_refuses_others(
    agent: Agent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = serve_settings(agent, monkeypatch, tmp_path)
    name, ns = agent.name, agent.namespace
    service = [name, f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"]
    external = [host.replace("*", "a") for host in agent.spec.network.hosts]
    assert probe_hosts(agent) == {"localhost"}
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        for host in [*service, *external, "localhost", "localhost:8000"]:
            response = await client.get("/livez", headers={"Host": host})
            assert response.status_code == 200, host
        for host in ("10.244.1.7", "10.244.1.7:8000", "evil.example", f"{name}.other"):
            response = await client.get("/livez", headers={"Host": host})
            assert response.status_code == 400, host


@pytest.mark.parametrize("agent", AGENTS)
def test_only_the_spec_trusted_proxies_may_forward(
    agent: Agent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = serve_settings(agent, monkeypatch, tmp_path)
    uvicorn_config = server.build_config(create_app(settings), settings)
    proxies = agent.spec.network.trusted_proxies
    assert uvicorn_config.proxy_headers is bool(proxies)
    assert uvicorn_config.forwarded_allow_ips == proxies


@pytest.mark.parametrize("agent", AGENTS)
def test_the_operator_never_renders_the_any_host_wildcard(
    agent: Agent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The agent refuses '*' in production unless RAGAGENT_TRUSTED_HOSTS_ALLOW_ANY says so;
    # the operator lists names and never sets that switch.
    settings = serve_settings(agent, monkeypatch, tmp_path)
    assert settings.is_production
    assert "*" not in settings.trusted_hosts
    assert settings.trusted_hosts
    assert not settings.trusted_hosts_allow_any
