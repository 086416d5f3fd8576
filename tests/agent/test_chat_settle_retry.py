"""A turn whose charge cannot be settled (the database went away just after the answer was
stored) still ends with its ``done``, and the charge is settled once the database answers.

bench.soak db-outage found the WebSocket case: the error frame sent after ``done`` was read
as the reply to the client's next question, and from then on every answer on that socket
was taken for the previous question's.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime

import psycopg
from fastapi.testclient import TestClient

from ragagent.core import errors
from ragagent.core.db import Connection
from ragagent.db import token_usage
from ragagent.rag.types import Usage
from ragagent.services import budget
from tests.support.chat_app import ClientFactory, app_state, ingest

QUESTION = "How hot should the water be for green tea?"


class BudgetWithOneOutage(budget.Budget):
    """The real budget, except that its first settlement finds the database unavailable."""

    # The answer's own settlement and the one stream_turn tries again both fail.
    outages = 2

    async def settle(
        self,
        reserved: token_usage.Reserved,
        spent: dict[str, Usage],
        *,
        release: bool = True,
        conn: Connection | None = None,
    ) -> None:
        if self.outages:
            self.outages -= 1
            raise errors.DatabaseUnavailable("injected: the database went away")
        await super().settle(reserved, spent, release=release, conn=conn)


def frame_types(websocket: object, question: str) -> list[str]:
    websocket.send_text(json.dumps({"message": question}))  # type: ignore[attr-defined]
    kinds: list[str] = []
    while not kinds or kinds[-1] not in ("done", "error"):
        kinds.append(json.loads(websocket.receive_text())["type"])  # type: ignore[attr-defined]
    return kinds


def charged_tokens(client: TestClient) -> int:
    state = app_state(client)
    today = datetime.now(UTC).date()

    async def total() -> int:
        rows = await budget.list_usage(
            state.db, state.settings, identity=None, since=today, until=today
        )
        return sum(row.tokens_in + row.tokens_out for row in rows)

    assert client.portal is not None
    return int(client.portal.call(total))


def test_a_failed_settlement_sends_no_error_after_done_and_is_retried(
    chat_client: TestClient,
) -> None:
    ingest(chat_client, external_id="tea", title="Tea", text="Green tea is steeped at 80 °C.")
    state = app_state(chat_client)
    flaky = BudgetWithOneOutage(db=state.db, settings=state.settings)
    state.chat = dataclasses.replace(state.chat, budget=flaky)
    with chat_client.websocket_connect("/v1/ws/chat") as websocket:
        first = frame_types(websocket, QUESTION)
        second = frame_types(websocket, QUESTION)
    assert first[-1] == "done"
    assert second[0] == "token", "the frame after a done must belong to the next answer"
    assert second[-1] == "done"
    deadline = time.monotonic() + 30
    while charged_tokens(chat_client) == 0:
        assert time.monotonic() < deadline, "the first turn's charge was never settled"
        time.sleep(0.2)


def charged_in_database(pg_url: str) -> int:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(sum(tokens_in + tokens_out), 0) FROM token_usage")
        total = row.fetchone()
    assert total is not None
    return int(total[0])


def test_shutdown_waits_for_a_settlement_being_retried(
    chat_app_factory: ClientFactory, pg_url: str
) -> None:
    client = chat_app_factory()
    ingest(client, external_id="tea", title="Tea", text="Green tea is steeped at 80 °C.")
    state = app_state(client)
    flaky = BudgetWithOneOutage(db=state.db, settings=state.settings, tasks=state.chat.budget.tasks)
    state.chat = dataclasses.replace(state.chat, budget=flaky)
    assert client.post("/v1/chat", json={"message": QUESTION}).status_code == 200
    assert len(state.chat.budget.tasks) == 1, "the settlement is being retried"
    client.__exit__(None, None, None)  # shut down at once: the retry is still asleep
    # Before: the retry died with the event loop and the turn's tokens were never charged.
    assert charged_in_database(pg_url) > 0
