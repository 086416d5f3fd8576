"""Scenario "idle-ws": thousands of open, idle chat WebSockets on one agent process.

Full: 2,000 sockets. Must hold: every socket opens, the agent's RSS stays under 300 MiB with
all of them open, and they still work (a sample of them asks a question and is answered).
Short: 300 sockets. The sockets stay idle well within ``ws_idle_timeout_seconds`` (300 s).
"""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from bench import _soak_agent, _soak_clients
from bench._soak import Outcome, raise_fd_limit

MAX_RSS_MIB = 300.0
OPEN_AT_ONCE = 50  # handshakes in flight together: a connection storm is not this scenario
HOLD_SECONDS = 5.0  # idle with every socket open before RSS is read
ASKING_SAMPLE = 10


def run(short: bool) -> Outcome:
    sockets = 300 if short else 2000
    raise_fd_limit(2 * sockets + 1024)
    with _soak_agent.running() as (_database, agent):
        return asyncio.run(hold(agent, sockets))


async def hold(agent: _soak_agent.Agent, count: int) -> Outcome:
    outcome = Outcome("idle-ws")
    outcome.numbers["sockets wanted"] = count
    before = agent.rss_mib()
    outcome.numbers["RSS MiB before"] = round(before, 1)
    started = time.monotonic()
    opened = await open_sockets(agent.ws_url, count)
    try:
        outcome.numbers["seconds to open"] = round(time.monotonic() - started, 1)
        outcome.numbers["sockets open"] = len(opened)
        await asyncio.sleep(HOLD_SECONDS)
        rss = agent.rss_mib()
        outcome.numbers["RSS MiB with all open"] = round(rss, 1)
        outcome.numbers["KiB per socket"] = round((rss - before) * 1024 / max(1, len(opened)), 1)
        sample = opened[:: max(1, len(opened) // ASKING_SAMPLE)][:ASKING_SAMPLE]
        answered = await ask_some(sample)
        outcome.numbers["sample answered"] = f"{answered} of {ASKING_SAMPLE}"
    finally:
        await asyncio.gather(*(socket.close() for socket in opened))
    outcome.check("every socket opened", len(opened) == count, f"{len(opened)} of {count}")
    outcome.check(f"RSS < {MAX_RSS_MIB:g} MiB", rss < MAX_RSS_MIB, f"{rss:.1f} MiB")
    outcome.check("idle sockets still answer", answered == ASKING_SAMPLE, f"{answered}")
    return outcome


async def open_sockets(url: str, count: int) -> list[ClientConnection]:
    """Open ``count`` sockets, ``OPEN_AT_ONCE`` handshakes at a time; those that fail are
    left out (the check counts them)."""
    gate = asyncio.Semaphore(OPEN_AT_ONCE)

    async def one() -> ClientConnection | None:
        async with gate:
            try:
                return await connect(url, open_timeout=60)
            except (WebSocketException, OSError, TimeoutError):
                return None

    results = await asyncio.gather(*(one() for _ in range(count)))
    return [socket for socket in results if socket is not None]


async def ask_some(sockets: list[ClientConnection]) -> int:
    turns = [_soak_clients.ws_turn(s, _soak_clients.next_question(), None) for s in sockets]
    return sum(1 for turn in await asyncio.gather(*turns) if turn.acknowledged)
