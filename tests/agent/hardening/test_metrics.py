"""Metrics after real traffic: right names, bounded labels, served on their own port."""

from __future__ import annotations

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ragagent.core.config import Settings
from ragagent.core.metrics import REGISTRY
from ragagent.core.server import start_metrics_server
from tests.agent.hardening.harness import bearer, build_settings, build_token, running_app
from tests.support import processes


def samples() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(REGISTRY).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(name: str, **labels: str) -> float:
    return samples().get((name, frozenset(labels.items())), 0.0)


METRICS_DOC = "# Metrics\n\nThe agent serves its Prometheus metrics on port 9090."


async def test_metrics_after_real_traffic(db_url: str, data_dir: str) -> None:
    settings = build_settings(db_url, data_dir, rate_limit_scopes="admin=1/0")
    chat_ok = {"route": "/v1/chat", "method": "POST", "status": "200"}
    conv_404 = {"route": "/v1/conversations/{conversation_id}", "method": "GET", "status": "404"}
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    before = {
        "chat": value("ragagent_http_requests_total", **chat_ok),
        "conv": value("ragagent_http_requests_total", **conv_404),
        "unmatched": value("ragagent_http_requests_total", **unmatched),
        "expired": value("ragagent_auth_failures_total", reason="expired"),
        "limited": value("ragagent_rate_limited_total", scope="admin", kind="requests"),
        "latency": value(
            "ragagent_http_request_duration_seconds_count", route="/v1/chat", method="POST"
        ),
    }
    tokens = sum(v for (name, _), v in samples().items() if name == "ragagent_llm_tokens_total")
    async with running_app(settings) as running:
        alice = bearer(build_token(sub="alice"))
        client = running.client
        # A document the question finds relevant, so the chat reaches the answerer: with none
        # it declines without one, and the LLM token series existed only when an earlier test
        # in this process had made it (it failed when run alone or scheduled first).
        document = {"external_id": "m", "title": "Metrics", "text": METRICS_DOC}
        assert (await client.post("/v1/documents", json=document, headers=alice)).is_success
        question = {"message": "Which port serves the Prometheus metrics?"}
        assert (await client.post("/v1/chat", json=question, headers=alice)).is_success
        missing = "/v1/conversations/00000000-0000-0000-0000-000000000000"
        assert (await client.get(missing, headers=alice)).status_code == 404
        assert (await client.get("/no/such/path/12345")).status_code == 404
        await client.get("/v1/conversations", headers=bearer(build_token(exp_in=-3600)))
        for _ in range(2):
            await client.delete("/v1/users/someone/data", headers=alice)
        after = samples()
        assert after[("ragagent_db_pool_connections", frozenset({("state", "size")}))] >= 1
    assert value("ragagent_http_requests_total", **chat_ok) == before["chat"] + 1
    assert value("ragagent_http_requests_total", **conv_404) == before["conv"] + 1
    assert value("ragagent_http_requests_total", **unmatched) == before["unmatched"] + 1
    assert value("ragagent_auth_failures_total", reason="expired") == before["expired"] + 1
    assert value("ragagent_rate_limited_total", scope="admin", kind="requests") == (
        before["limited"] + 1
    )
    assert (
        value("ragagent_http_request_duration_seconds_count", route="/v1/chat", method="POST")
        == before["latency"] + 1
    )
    routes = {dict(labels).get("route") for name, labels in after if "http_requests" in name}
    assert not any(route and "12345" in route for route in routes)
    assert ("ragagent_build_info", frozenset({("version", "0.1.0")})) in after
    names = {name for name, _ in after}
    for expected in (
        "ragagent_chat_duration_seconds_count",
        "ragagent_retrieval_duration_seconds_count",
        "ragagent_embedding_duration_seconds_count",
    ):
        assert expected in names, expected
    assert sum(v for (name, _), v in after.items() if name == "ragagent_llm_tokens_total") > tokens


def test_metrics_are_served_on_their_own_port() -> None:
    port = processes.free_port()
    server = start_metrics_server(Settings(metrics_port=port))
    assert server is not None
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 200
    assert "ragagent_http_requests_total" in response.text
    assert "ragagent_build_info" in response.text
    assert start_metrics_server(Settings(metrics_port=0)) is None
