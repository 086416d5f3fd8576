"""/v1/ws/chat against the real app and database: streaming, citations, limits, auth."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from tests.support.chat_app import ClientFactory, create_key, ingest

pytestmark = [pytest.mark.db, pytest.mark.slow]

DOC = "# Deployment\n\nRagAgent runs on Kubernetes through the RagAgent operator, managed by Helm."


def receive_answer(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    """Frames up to and including ``done`` (or a single ``error``)."""
    frames = []
    while True:
        frame = ws.receive_json()
        frames.append(frame)
        if frame["type"] in ("done", "error"):
            return frames


def test_websocket_streams_tokens_then_citations_then_done(chat_client: TestClient) -> None:
    ingest(chat_client, external_id="deploy", title="Deployment", text=DOC)
    with chat_client.websocket_connect("/v1/ws/chat") as ws:
        ws.send_json({"message": "How does RagAgent run on Kubernetes?"})
        frames = receive_answer(ws)
    kinds = [f["type"] for f in frames]
    assert kinds[-2:] == ["citations", "done"]
    assert kinds.count("token") > 3
    answer = "".join(f["text"] for f in frames if f["type"] == "token")
    assert "operator" in answer
    assert frames[-2]["citations"][0]["external_id"] == "deploy"
    assert frames[-1]["conversation_id"] == frames[-2]["conversation_id"]


def test_websocket_continues_a_conversation(chat_client: TestClient) -> None:
    with chat_client.websocket_connect("/v1/ws/chat") as ws:
        ws.send_json({"message": "first question"})
        conversation_id = receive_answer(ws)[-1]["conversation_id"]
        ws.send_json({"message": "second question", "conversation_id": conversation_id})
        assert receive_answer(ws)[-1]["conversation_id"] == conversation_id
    detail = chat_client.get(f"/v1/conversations/{conversation_id}").json()
    assert detail["message_count"] == 4


def test_bad_frames_get_error_frames_and_the_socket_stays_open(chat_client: TestClient) -> None:
    with chat_client.websocket_connect("/v1/ws/chat") as ws:
        ws.send_text("{not json")
        malformed = receive_answer(ws)[0]
        ws.send_json({"message": ""})
        empty = receive_answer(ws)[0]
        ws.send_json({"message": "hi", "conversation_id": "3f1c1d8e-2f0a-4c41-9d55-0a8f4f1e9b10"})
        unknown = receive_answer(ws)[0]
        ws.send_json({"message": "still alive?"})
        assert receive_answer(ws)[-1]["type"] == "done"
    assert (malformed["type"], malformed["status"]) == ("error", 422)
    assert (empty["type"], empty["status"]) == ("error", 422)
    assert "empty" in empty["detail"]
    assert (unknown["type"], unknown["status"]) == ("error", 404)


def test_oversized_frame_closes_with_1009(chat_app_factory: ClientFactory) -> None:
    client = chat_app_factory(max_ws_frame_bytes=1024)
    with client.websocket_connect("/v1/ws/chat") as ws:
        ws.send_text("x" * 2048)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1009


def test_websocket_refuses_unauthenticated_clients_with_1008(
    chat_app_factory: ClientFactory,
) -> None:
    client = chat_app_factory(auth_disabled=False)
    create_key(client, "dave")
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/v1/ws/chat"):
        pass
    assert closed.value.code == 1008


def test_browser_style_subprotocol_token_authenticates(chat_app_factory: ClientFactory) -> None:
    client = chat_app_factory(auth_disabled=False)
    key = create_key(client, "erin")
    protocols = ["ragagent", f"bearer.{key}"]
    with client.websocket_connect("/v1/ws/chat", subprotocols=protocols) as ws:
        assert ws.accepted_subprotocol == "ragagent"
        ws.send_json({"message": "hello"})
        frames = receive_answer(ws)
    assert frames[-1]["type"] == "done"
    listed = client.get("/v1/conversations", headers={"Authorization": f"Bearer {key}"}).json()
    assert len(listed["conversations"]) == 1
