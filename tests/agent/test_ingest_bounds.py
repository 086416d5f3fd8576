"""A large HTML upload neither freezes the agent nor runs unbounded.

The agent runs under real uvicorn on the real embedded PostgreSQL. While one client
uploads a large flat HTML document, probes and a chat request keep being answered,
because parsing runs in a worker thread in one linear pass (it used to hold the event
loop for minutes). Documents over the element cap are refused with a clear 413.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.support.chat_app import ClientFactory, LiveAgent

pytestmark = [pytest.mark.db, pytest.mark.slow]

# 1 MB of the worst case for a per-tag parser, 262,000 sibling line breaks (the old parser
# needed far more than the probe timeout for it), around one paragraph: one chunk to embed.
LARGE_HTML = "<html><body>" + "<br>" * 131_000 + "<p>Oolong tea is rolled.</p>" + "<br>" * 131_000
LARGE_HTML += "</body></html>"
# Slow enough to show a frozen loop, generous for a loaded two-core machine.
PROBE_TIMEOUT_SECONDS = 5.0


def _upload(agent: LiveAgent, outcome: list[httpx.Response]) -> None:
    outcome.append(
        httpx.post(
            f"{agent.url}/v1/documents?external_id=large",
            content=LARGE_HTML.encode(),
            headers={**agent.headers, "Content-Type": "text/html"},
            timeout=300,
        )
    )


def test_probes_and_chat_are_answered_while_a_large_html_document_is_ingested(
    live_agent_factory: Callable[..., LiveAgent],
) -> None:
    agent = live_agent_factory(max_html_elements=300_000)
    outcome: list[httpx.Response] = []
    upload = threading.Thread(target=_upload, args=(agent, outcome))
    upload.start()
    slowest, chat_status = 0.0, 0
    with httpx.Client(base_url=agent.url, timeout=PROBE_TIMEOUT_SECONDS) as client:
        while upload.is_alive() or not chat_status:
            started = time.monotonic()
            assert client.get("/livez").status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            if not chat_status:
                question = {"message": "Which tea?"}
                chat = client.post("/v1/chat", json=question, headers=agent.headers, timeout=60)
                chat_status = chat.status_code
            time.sleep(0.05)
    upload.join()
    assert outcome[0].status_code == 201, outcome[0].text
    assert chat_status == 200
    assert slowest < PROBE_TIMEOUT_SECONDS


def test_html_over_the_element_cap_is_a_413_problem(chat_app_factory: ClientFactory) -> None:
    client: TestClient = chat_app_factory(max_html_elements=1_000)
    response = client.post(
        "/v1/documents?external_id=large",
        content=LARGE_HTML.encode(),
        headers={"Content-Type": "text/html"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "more than 1000 elements (RAGAGENT_MAX_HTML_ELEMENTS)" in response.json()["detail"]
