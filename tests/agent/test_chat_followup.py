"""Follow-up questions: the second turn is searched with the first question, so a
question that only makes sense after the first one finds the right document."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ragagent.core.models import ChatTurn
from ragagent.rag import followup
from tests.support.chat_app import ingest

pytestmark = [pytest.mark.db, pytest.mark.slow]

ZEBRA = "Zebra Corp sells accounting software. Zebra Corp refunds unused licences within 45 days."
ACME = "Acme Inc has a refund window: unused licences are refunded within 10 days."
FIRST = "What does Zebra Corp sell?"
SECOND = "How long is their refund window?"


def test_a_followup_is_searched_with_the_previous_question() -> None:
    history = [ChatTurn("user", FIRST), ChatTurn("assistant", "Accounting software [1].")]
    assert followup.build_search_query(SECOND, history) == f"{FIRST} {SECOND}"
    assert followup.build_search_query(SECOND, []) == SECOND


def test_a_standalone_question_is_searched_alone() -> None:
    history = [ChatTurn("user", FIRST)]
    question = "Which company refunds licences within ten days?"
    assert followup.build_search_query(question, history) == question


def test_the_second_turn_answers_about_the_company_of_the_first(chat_client: TestClient) -> None:
    ingest(chat_client, external_id="zebra", title="Zebra Corp", text=ZEBRA)
    ingest(chat_client, external_id="acme", title="Acme Inc", text=ACME)
    alone = chat_client.post("/v1/chat", json={"message": SECOND}).json()
    assert alone["citations"][0]["external_id"] == "acme"
    first = chat_client.post("/v1/chat", json={"message": FIRST}).json()
    second = chat_client.post(
        "/v1/chat", json={"message": SECOND, "conversation_id": first["conversation_id"]}
    ).json()
    assert second["citations"][0]["external_id"] == "zebra"
    assert "45 days" in second["answer"]
