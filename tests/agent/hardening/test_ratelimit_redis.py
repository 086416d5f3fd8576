"""Limits shared across replicas through a real Redis (``rate_limit_storage=redis``).

Two Limiter instances stand for two agent replicas: together they allow
exactly the configured number of requests.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragagent.core import errors
from ragagent.core.ratelimit import Limiter, ScopeLimit, create_storage
from ragagent.core.security import SCOPES, Principal

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    REDIS is None, reason="redis-server missing: run `make system-deps` (hack/install-system-deps)"
)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    assert REDIS is not None
    command = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(tmp_path)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(timeout=10)


def replica(url: str) -> Limiter:
    return Limiter(default=ScopeLimit(2, 1), storage=create_storage(url))


async def test_replicas_share_request_limits(
    redis_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    redis_url, _ = redis_server
    first, second = replica(redis_url), replica(redis_url)
    erin = Principal(id="erin", kind="jwt", scopes=SCOPES)
    await first.hit(erin, "chat")
    await second.hit(erin, "chat")
    headers = await first.hit(erin, "chat")
    assert headers["RateLimit-Remaining"] == "0"
    with pytest.raises(errors.RateLimited):
        await second.hit(erin, "chat")


async def test_an_unreachable_store_refuses_with_503(
    redis_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    redis_url, process = redis_server
    limiter = replica(redis_url)
    frank = Principal(id="frank", kind="jwt", scopes=SCOPES)
    await limiter.hit(frank, "chat")
    process.terminate()
    process.wait(timeout=10)
    with pytest.raises(errors.ServiceUnavailable):
        await limiter.hit(frank, "chat")
