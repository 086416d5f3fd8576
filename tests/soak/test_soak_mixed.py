"""``make soak``'s mixed scenario at its short size (20 clients for 20 s, bench.soak_mixed):
a real ``ragagent serve`` on a real PostgreSQL, REST, SSE and WebSocket clients at once."""

from __future__ import annotations

import pytest

from bench import soak_mixed

pytestmark = pytest.mark.slow


def test_mixed_chat_clients_all_get_answers_and_the_agent_does_not_grow() -> None:
    outcome = soak_mixed.run(short=True)
    assert outcome.held, (outcome.checks, outcome.numbers)
