"""status.endpoints advertises URLs the agent really serves, read from its FastAPI route table."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts

from ragagent.core.config import Settings
from ragagent.main import create_app
from ragagent_operator.render import service
from ragagent_operator.render.common import build_agent


def route_table() -> dict[str, set[str]]:
    """Path -> the HTTP methods it answers, or {"WEBSOCKET"}, in the agent's real app."""
    table: dict[str, set[str]] = {}
    for context in iter_route_contexts(create_app(Settings()).routes):
        route = context.original_route
        if isinstance(route, APIWebSocketRoute):
            table.setdefault(route.path, set()).add("WEBSOCKET")
        elif isinstance(route, APIRoute):
            table.setdefault(route.path, set()).update(route.methods or ())
    return table


@pytest.fixture(scope="module")
def endpoints() -> dict[str, str]:
    spec: dict[str, Any] = {"database": {"managed": {}}}
    body = {"metadata": {"name": "docs", "namespace": "team"}, "spec": spec}
    return service.build_endpoints(build_agent(body, default_image="ragagent:test"))


def test_advertised_websocket_is_the_agents_chat_websocket(endpoints: dict[str, str]) -> None:
    url = urlsplit(endpoints["websocket"])
    assert url.scheme == "ws"
    assert route_table().get(url.path) == {"WEBSOCKET"}


def test_advertised_openai_base_url_serves_chat_completions_and_models(
    endpoints: dict[str, str],
) -> None:
    base = urlsplit(endpoints["openaiBaseURL"]).path
    routes = route_table()
    assert "POST" in routes.get(f"{base}/chat/completions", set())
    assert "GET" in routes.get(f"{base}/models", set())


def test_advertised_rest_base_is_where_the_resources_live(endpoints: dict[str, str]) -> None:
    base = urlsplit(endpoints["rest"]).path
    routes = route_table()
    assert "POST" in routes.get(f"{base}/documents", set())
    assert "GET" in routes.get(f"{base}/conversations", set())


def test_every_endpoint_uses_the_services_app_port(endpoints: dict[str, str]) -> None:
    ports = {urlsplit(url).port for url in endpoints.values()}
    hosts = {urlsplit(url).hostname for url in endpoints.values()}
    assert ports == {8000}
    assert hosts == {"docs.team.svc.cluster.local"}
