"""Chat turns on the real app and database: every interface waits in the one admission queue
(503 with Retry-After past the bound; a WebSocket gets an error frame and stays open), the
queue is refused on drain, and a turn checks out four pooled connections, not six."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import pytest
from fastapi.testclient import TestClient

from ragagent.api import lifecycle
from ragagent.core.admission import Slot
from ragagent.core.db import Connection, Database
from ragagent.services import budget
from tests.support.chat_app import ClientFactory, app_state, ingest

if TYPE_CHECKING:
    from starlette.applications import Starlette

pytestmark = [pytest.mark.db, pytest.mark.slow]

QUESTION = "How hot should the water be for green tea?"


def hold_the_only_slot(client: TestClient) -> Slot:
    state = app_state(client)
    assert client.portal is not None
    slot: Slot = client.portal.call(state.chat.admission.acquire)
    return slot


def release(client: TestClient, slot: Slot) -> None:
    assert client.portal is not None
    client.portal.call(slot.release)  # on the app's event loop, as a turn's end would


def test_a_turn_that_waits_past_the_bound_gets_503_and_a_websocket_stays_open(
    chat_app_factory: ClientFactory,
) -> None:
    client = chat_app_factory(chat_max_concurrent_turns=1, chat_admission_wait_seconds=0.5)
    ingest(client, external_id="tea", title="Tea", text="Green tea is steeped at 80 °C.")
    slot = hold_the_only_slot(client)
    response = client.post("/v1/chat", json={"message": QUESTION})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) >= 1
    assert "too many chat turns" in response.json()["detail"]
    with client.websocket_connect("/v1/ws/chat") as websocket:
        websocket.send_text(json.dumps({"message": QUESTION}))
        refused = json.loads(websocket.receive_text())
        assert (refused["type"], refused["status"]) == ("error", 503)
        release(client, slot)
        websocket.send_text(json.dumps({"message": QUESTION}))  # the same socket, answered
        kinds: list[str] = []
        while not kinds or kinds[-1] not in ("done", "error"):
            kinds.append(json.loads(websocket.receive_text())["type"])
    assert kinds[-1] == "done"
    assert client.post("/v1/chat", json={"message": QUESTION}).status_code == 200


def test_draining_refuses_the_turns_queued_for_a_slot(chat_app_factory: ClientFactory) -> None:
    client = chat_app_factory(chat_max_concurrent_turns=1, chat_admission_wait_seconds=60)
    state = app_state(client)
    slot = hold_the_only_slot(client)
    answers: list[Any] = []  # the responses of the TestClient's own httpx
    asking = threading.Thread(
        target=lambda: answers.append(client.post("/v1/chat", json={"message": QUESTION}))
    )
    asking.start()
    deadline = time.monotonic() + 30
    while state.chat.admission.waiting == 0:
        assert time.monotonic() < deadline, "the turn never queued"
        time.sleep(0.05)
    assert client.portal is not None
    app = cast("Starlette", client.app)

    async def drain() -> None:
        await lifecycle.drain(app, grace_seconds=1.0)

    client.portal.call(drain)
    asking.join(timeout=30)
    [answer] = answers
    assert answer.status_code == 503
    assert "shutting down" in answer.json()["detail"]
    release(client, slot)


class CountingDatabase(Database):
    """The app's pool, counting every connection checked out of it."""

    checkouts = 0

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        self.checkouts += 1
        async with super().connection() as conn:
            yield conn


def test_a_turn_checks_out_four_pooled_connections(chat_client: TestClient) -> None:
    ingest(chat_client, external_id="tea", title="Tea", text="Green tea is steeped at 80 °C.")
    state = app_state(chat_client)
    counting = CountingDatabase(state.db._pool, url=state.db.url)
    counted = budget.Budget(db=counting, settings=state.settings, tasks=state.chat.budget.tasks)
    state.chat = dataclasses.replace(state.chat, db=counting, budget=counted)
    first: dict[str, Any] = chat_client.post("/v1/chat", json={"message": QUESTION}).json()
    counting.checkouts = 0
    body = {"message": QUESTION, "conversation_id": first["conversation_id"]}
    assert chat_client.post("/v1/chat", json=body).status_code == 200
    # The history and the reservation, the retrieval, the question, the answer and its
    # settlement (before: six, one each).
    assert counting.checkouts == 4
