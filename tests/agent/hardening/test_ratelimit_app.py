"""Rate limits through the real app: exact on REST and on WebSocket messages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ragagent.main import create_app
from tests.agent.hardening.harness import bearer, build_settings, build_token, running_app

LIMITED = {"rate_limit_scopes": "chat=2/1"}  # 2 per minute + burst 1 = 3 per window


async def test_rest_request_after_the_limit_gets_429_with_headers(
    db_url: str, data_dir: str
) -> None:
    async with running_app(build_settings(db_url, data_dir, **LIMITED)) as running:
        alice = bearer(build_token(sub="alice", scope="chat"))
        statuses, remaining = [], []
        for _ in range(3):
            response = await running.client.get("/v1/conversations", headers=alice)
            statuses.append(response.status_code)
            remaining.append(response.headers["RateLimit-Remaining"])
        assert statuses == [200, 200, 200]
        assert remaining == ["2", "1", "0"]
        refused = await running.client.get("/v1/conversations", headers=alice)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["RateLimit-Limit"] == "3"
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert int(refused.headers["RateLimit-Reset"]) >= 1
        bob = bearer(build_token(sub="bob", scope="chat"))
        assert (await running.client.get("/v1/conversations", headers=bob)).status_code == 200


async def test_daily_token_budget_refuses_chat_once_spent(db_url: str, data_dir: str) -> None:
    # An empty knowledge base would decline every turn (no LLM call, 0 tokens); this test is
    # about charging answered turns, so nothing is declined. A turn reserves its estimate
    # (about 1,220 tokens here: five 200-token passages, 16 answer tokens, the prompt), so
    # the budget fits one turn's reservation but not a second one beside what it spent.
    settings = build_settings(
        db_url,
        data_dir,
        rate_limit_tokens_per_day=1300,
        llm_max_tokens=16,
        answer_min_similarity=0.0,
    )
    async with running_app(settings) as running:
        carol = bearer(build_token(sub="carol", scope="chat"))
        responses = [
            await running.client.post(
                "/v1/chat", json={"message": "tell me about RagAgent"}, headers=carol
            )
            for _ in range(4)
        ]
        statuses = [r.status_code for r in responses]
        assert statuses[0] == 200
        assert responses[0].json()["usage"]["total_tokens"] > 0
        first_refusal = statuses.index(429)
        assert set(statuses[first_refusal:]) == {429}
        assert "token budget" in responses[-1].json()["detail"]
        dave = bearer(build_token(sub="dave", scope="chat"))
        other = await running.client.post("/v1/chat", json={"message": "hi"}, headers=dave)
        assert other.status_code == 200


def test_websocket_message_after_the_limit_gets_an_error_frame(db_url: str, data_dir: str) -> None:
    settings = build_settings(db_url, data_dir, **LIMITED)
    token = build_token(sub="ws-alice", scope="chat")
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/v1/ws/chat", headers=bearer(token)) as ws,
    ):
        for _ in range(3):
            ws.send_json({"message": "hello"})
            frame = ws.receive_json()
            while frame["type"] not in ("done", "error"):
                frame = ws.receive_json()
            assert frame["type"] == "done"
        ws.send_json({"message": "one too many"})
        refused = ws.receive_json()
        assert refused["type"] == "error"
        assert refused["status"] == 429
        ws.send_json({"message": "still open?"})
        assert ws.receive_json()["status"] == 429
