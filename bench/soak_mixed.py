"""Scenario "mixed": many chat clients (REST, SSE and WebSocket in turn) on one agent process.

Full: 200 clients for 10 minutes. Must hold: no turn fails, and the agent's RSS grows less
than 10% from minute 2 to the end (a leak shows as steady growth once caches are warm).
p50/p99 latency and throughput are reported. Short: 20 clients for 20 s, RSS from second 5.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

from bench import _soak_agent, _soak_clients
from bench._soak import Outcome, percentile, raise_fd_limit
from bench._soak_clients import Turn

MAX_RSS_GROWTH = 0.10
RSS_SAMPLE_SECONDS = 1.0


@dataclass(frozen=True)
class Size:
    clients: int
    seconds: float
    baseline_at: float  # seconds into the run where RSS growth is measured from
    think: tuple[float, float]  # each client's pause between turns, uniform in this range


FULL = Size(clients=200, seconds=600, baseline_at=120, think=(1.0, 3.0))
SHORT = Size(clients=20, seconds=20, baseline_at=5, think=(0.2, 1.0))


def run(short: bool) -> Outcome:
    raise_fd_limit(4096)
    size = SHORT if short else FULL
    with _soak_agent.running() as (_database, agent):
        turns, rss = asyncio.run(drive(agent, size))
    return judge(size, turns, rss)


Samples = list[tuple[float, float]]  # (seconds since the start, RSS MiB)


async def drive(agent: _soak_agent.Agent, size: Size) -> tuple[list[Turn], Samples]:
    """Run the clients for ``size.seconds``; returns every turn and (second, RSS MiB) samples."""
    turns: list[Turn] = []
    rss: Samples = []
    started = time.monotonic()
    until = started + size.seconds
    async with _soak_clients.http_client(agent.base, size.clients + 10) as http:
        clients = _soak_clients.chat_clients(
            size.clients, http=http, until=until, think=size.think, record=turns.append
        )
        sampler = asyncio.create_task(sample_rss(agent, started, until, rss))
        await asyncio.gather(*clients)
        await sampler
    return turns, rss


async def sample_rss(agent: _soak_agent.Agent, started: float, until: float, into: Samples) -> None:
    while time.monotonic() < until:
        into.append((time.monotonic() - started, agent.rss_mib()))
        await asyncio.sleep(RSS_SAMPLE_SECONDS)
    into.append((time.monotonic() - started, agent.rss_mib()))


def judge(size: Size, turns: list[Turn], rss: Samples) -> Outcome:
    outcome = Outcome("mixed")
    failed = [turn for turn in turns if not turn.acknowledged]
    latencies = [turn.seconds for turn in turns if turn.acknowledged]
    baseline = next(mib for second, mib in rss if second >= size.baseline_at)
    final = rss[-1][1]
    growth = (final - baseline) / baseline
    numbers = outcome.numbers
    numbers["clients"], numbers["seconds"] = size.clients, size.seconds
    numbers["turns"], numbers["failed turns"] = len(turns), len(failed)
    statuses = Counter(turn.status for turn in failed)
    numbers["failed by status"] = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
    numbers["turns per second"] = round(len(turns) / size.seconds, 1)
    for transport in _soak_clients.TRANSPORTS:
        numbers[f"{transport} turns"] = sum(1 for t in turns if t.transport == transport)
    numbers["p50 seconds"] = round(percentile(latencies, 0.50), 3)
    numbers["p99 seconds"] = round(percentile(latencies, 0.99), 3)
    numbers["max seconds"] = round(max(latencies, default=0.0), 3)
    numbers[f"RSS MiB at {size.baseline_at:g} s"] = round(baseline, 1)
    numbers["RSS MiB at the end"] = round(final, 1)
    numbers["RSS MiB peak"] = round(max(mib for _, mib in rss), 1)
    numbers["RSS growth %"] = round(100 * growth, 1)
    examples = "; ".join(f"{t.transport} {t.status} {t.detail[:80]}" for t in failed[:3])
    outcome.check("every turn answered (0 errors)", not failed and bool(turns), examples)
    outcome.check(
        f"RSS grows < {MAX_RSS_GROWTH:.0%} after {size.baseline_at:g} s",
        growth < MAX_RSS_GROWTH,
        f"{baseline:.1f} -> {final:.1f} MiB",
    )
    return outcome
