"""``make soak``'s idle-WebSocket scenario at its short size (300 sockets, bench.soak_idle_ws):
every socket opens on one real agent process, which stays under 300 MiB and still answers."""

from __future__ import annotations

import pytest

from bench import soak_idle_ws

pytestmark = pytest.mark.slow


def test_idle_websockets_all_open_and_the_agent_stays_under_300_mib() -> None:
    outcome = soak_idle_ws.run(short=True)
    assert outcome.held, (outcome.checks, outcome.numbers)
