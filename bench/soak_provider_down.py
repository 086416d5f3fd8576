"""Scenario "provider-down": the primary LLM provider goes down under load, then returns.

Two local OpenAI-compatible servers (``tests.support.fake_openai``) are the agent's primary
and first fallback provider. Chat clients (REST, SSE, WebSocket) run throughout; the
primary is stopped (connections refused) for 30 s and then served again on the same port.
Must hold: no turn fails, no answer is degraded (the offline extractive answerer never
stands in), and the fallback answered while the primary was down: at least once, and at
least once for every turn asked and answered wholly inside that window.
Short: the primary is down for 8 s.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench import _soak_agent, _soak_clients
from bench._soak import Outcome, percentile, raise_fd_limit
from bench._soak_clients import Turn
from tests.support.fake_openai import FakeOpenAI, ServerThread


@dataclass(frozen=True)
class Size:
    clients: int
    before: float  # seconds of load before the primary stops
    down: float
    after: float
    think: tuple[float, float]


FULL = Size(clients=30, before=20, down=30, after=20, think=(0.2, 1.0))
SHORT = Size(clients=6, before=3, down=8, after=3, think=(0.1, 0.5))


@dataclass
class Window:
    """When the primary was down, and how many requests each server had seen by then."""

    down_at: float = 0.0
    up_at: float = 0.0
    fallback_before: int = 0
    fallback_after: int = 0
    primary_at_return: int = 0


def serve_on(fake: FakeOpenAI, port: int) -> ServerThread:
    """``fake`` served on ``port`` (0: a free one), so a restart keeps the agent's URL."""
    thread = ServerThread(fake.app)
    if port:
        thread.port = thread.server.config.port = port
        thread.url = f"http://127.0.0.1:{port}"
    fake.url = thread.url
    return thread


def llm_environment(primary: FakeOpenAI, fallback: FakeOpenAI) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": f"{primary.url}/v1",
        "OPENAI_API_KEY": "soak-primary",
        "RAGAGENT_CHAT_MODEL": "soak-primary",
        "RAGAGENT_LLM_FALLBACK_1_BASE_URL": f"{fallback.url}/v1",
        "RAGAGENT_LLM_FALLBACK_1_MODEL": "soak-fallback",
        "RAGAGENT_LLM_FALLBACK_1_API_KEY": "soak-fallback",
    }


def run(short: bool) -> Outcome:
    raise_fd_limit(4096)
    size = SHORT if short else FULL
    primary, fallback = FakeOpenAI(), FakeOpenAI()
    with serve_on(primary, 0) as first, serve_on(fallback, 0):
        environment = llm_environment(primary, fallback)
        with _soak_agent.running(environment) as (_database, agent):
            turns, window = asyncio.run(drive(agent, size, first, primary, fallback))
    window.primary_at_return = len(primary.behaviour.requests) - window.primary_at_return
    return judge(size, turns, window)


async def drive(
    agent: _soak_agent.Agent,
    size: Size,
    first: ServerThread,
    primary: FakeOpenAI,
    fallback: FakeOpenAI,
) -> tuple[list[Turn], Window]:
    turns: list[Turn] = []
    window = Window()
    until = time.monotonic() + size.before + size.down + size.after
    async with _soak_clients.http_client(agent.base, size.clients + 10) as http:
        clients = _soak_clients.chat_clients(
            size.clients, http=http, until=until, think=size.think, record=turns.append
        )
        outage = take_down(size, first, primary, fallback, window)
        await asyncio.gather(*clients, outage)
    return turns, window


async def take_down(
    size: Size, first: ServerThread, primary: FakeOpenAI, fallback: FakeOpenAI, window: Window
) -> None:
    """Stop the primary after ``size.before``; serve it again on its port after ``size.down``
    (kept running until the process ends: a daemon thread)."""
    await asyncio.sleep(size.before)
    await asyncio.to_thread(first.__exit__, None, None, None)
    window.down_at, window.fallback_before = time.monotonic(), len(fallback.behaviour.requests)
    await asyncio.sleep(size.down)
    window.up_at, window.fallback_after = time.monotonic(), len(fallback.behaviour.requests)
    window.primary_at_return = len(primary.behaviour.requests)
    await asyncio.to_thread(serve_on(primary, first.port).__enter__)


def judge(size: Size, turns: list[Turn], window: Window) -> Outcome:
    outcome = Outcome("provider-down")
    failed = [t for t in turns if not t.acknowledged]
    degraded = [t for t in turns if t.degraded]
    inside = [
        t
        for t in turns
        if t.acknowledged and not t.declined
        and window.down_at <= t.started and t.started + t.seconds <= window.up_at
    ]  # fmt: skip
    served = window.fallback_after - window.fallback_before
    latencies = [t.seconds for t in turns if t.acknowledged]
    numbers = outcome.numbers
    numbers["clients"], numbers["primary down seconds"] = size.clients, size.down
    numbers["turns"], numbers["failed turns"] = len(turns), len(failed)
    numbers["degraded answers"] = len(degraded)
    numbers["turns asked while the primary was down"] = len(inside)
    numbers["fallback requests while it was down"] = served
    numbers["primary requests after its return"] = window.primary_at_return
    numbers["p50 seconds"] = round(percentile(latencies, 0.50), 3)
    numbers["p99 seconds"] = round(percentile(latencies, 0.99), 3)
    examples = "; ".join(f"{t.transport} {t.status} {t.detail[:80]}" for t in failed[:3])
    outcome.check("every turn answered (0 errors)", not failed and bool(turns), examples)
    outcome.check("no answer degraded to the extractive answerer", not degraded)
    outcome.check(
        "the fallback answered every turn asked while the primary was down",
        served >= max(1, len(inside)),
        f"{served} fallback requests for {len(inside)} turns",
    )
    return outcome
