"""The chat page in headless Debian Chromium, against the agent served by real uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.chat_app import LiveAgent

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DOC = "# Retention\n\nRagAgent deletes idle conversations after the configured retention period."


@pytest.fixture
def page() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"BROWSER TEST SKIPPED: {CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_chat_page_streams_an_answer_with_citations(
    live_agent_factory: Callable[..., LiveAgent], page: object
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    agent = live_agent_factory()
    document = {"external_id": "retention", "title": "Retention policy", "text": DOC}
    httpx.post(f"{agent.url}/v1/documents", json=document, headers=agent.headers, timeout=30)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(agent.url + "/")
    page.fill("#api-key", agent.key)
    page.click("#key-form button")
    page.fill("#question", "When are idle conversations deleted?")
    page.click("#send")

    answer = page.locator(".message.assistant").last
    expect(answer).to_have_attribute("data-state", "done", timeout=30_000)
    expect(answer.locator(".body")).to_contain_text("retention period")
    expect(answer.locator(".citations li").first).to_contain_text("Retention policy")
    expect(page.locator(".message.user")).to_have_text("When are idle conversations deleted?")
    assert problems == []
