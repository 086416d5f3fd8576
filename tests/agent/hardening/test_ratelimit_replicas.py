"""Two real ``ragagent serve`` processes on one database share one rate limit.

With ``RAGAGENT_RATE_LIMIT_STORAGE=postgres`` (what the operator renders once a second pod
may run) the limit is the configured one across both processes, not twice it, and a
replica that restarts still knows what was counted.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import processes
from tests.support.processes import Component

pytestmark = pytest.mark.slow

# chat=2/1: 2 per minute plus a burst of 1, so 3 requests in any minute.
LIMIT = 3
SHARED_ENV = {
    "RAGAGENT_METRICS_PORT": "0",
    "RAGAGENT_INGEST_SAMPLES_ON_START": "false",
    "RAGAGENT_AUTH_DISABLED": "true",
    "RAGAGENT_RATE_LIMIT_SCOPES": "chat=2/1",
    "RAGAGENT_RATE_LIMIT_STORAGE": "postgres",
}


class Replicas:
    """Agent processes on ``db_url``, each on its own port, started and restarted by name."""

    def __init__(self, db_url: str, data_dir: str, log_dir: Path) -> None:
        self.env = {**SHARED_ENV, "RAGAGENT_DATABASE_URL": db_url, "RAGAGENT_DATA_DIR": data_dir}
        self.log_dir = log_dir
        self.running: dict[str, tuple[Component, str]] = {}

    def start(self, name: str) -> None:
        port = processes.free_port()
        ragagent = str(Path(sys.executable).with_name("ragagent"))
        command = [ragagent, "serve", "--host", "127.0.0.1", "--port", str(port)]
        agent = processes.start(name, command, log_dir=self.log_dir, env=self.env)
        self.running[name] = (agent, f"http://127.0.0.1:{port}")

    def wait_ready(self) -> None:
        for agent, base in self.running.values():
            ready = functools.partial(processes.http_ok, f"{base}/readyz")
            processes.wait_until(f"{agent.name} ready", ready, timeout=120, watch=[agent])

    def stop(self, name: str) -> None:
        agent, _ = self.running.pop(name)
        agent.stop()

    def get(self, name: str) -> httpx.Response:
        _, base = self.running[name]
        return httpx.get(f"{base}/v1/conversations", timeout=30)


@pytest.fixture
def replicas(db_url: str, data_dir: str, tmp_path: Path) -> Iterator[Replicas]:
    both = Replicas(db_url, data_dir, tmp_path)
    try:
        both.start("first")
        both.start("second")
        both.wait_ready()
        yield both
    finally:
        for name in list(both.running):
            both.stop(name)


def test_two_processes_share_one_limit_and_a_restart_keeps_it(replicas: Replicas) -> None:
    started = time.monotonic()
    answers = [replicas.get(name) for name in ("first", "second", "first")]
    assert [r.status_code for r in answers] == [200] * LIMIT
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    refused = replicas.get("second")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert refused.json()["detail"] == "Rate limit exceeded for scope 'chat'"
    assert refused.headers["RateLimit-Limit"] == str(LIMIT)
    assert 1 <= int(refused.headers["Retry-After"]) <= 61

    replicas.stop("first")
    replicas.start("first")
    replicas.wait_ready()
    # The minute's window must still be open, or a 429 would prove nothing.
    assert time.monotonic() - started < 55, "the restart outlasted the one-minute window"
    after_restart = replicas.get("first")
    assert after_restart.status_code == 429
    assert after_restart.headers["RateLimit-Remaining"] == "0"
