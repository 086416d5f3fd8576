"""Added latency of shared rate-limit counters: the PostgreSQL storage against ``memory://``.

What every request pays is one ``Limiter.hit`` (the minute and hour windows, then the
RateLimit-* headers: three storage calls); a chat turn's token budget is ``bench.budget``'s.
Each is timed alone, one caller after another
(the latency a request sees) and with 16 concurrent callers on 16 identities (the
pool shared with the rest of the app, here without other work). The database is the
embedded one over a Unix socket, or BENCH_DATABASE_URL; a loopback redis-server, when one
is installed, gives the other design's figures.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from bench import _report, _timing
from bench._pg import bench_database
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.ratelimit import Limiter, ScopeLimit, create_storage
from ragagent.core.security import SCOPES, Principal
from ragagent.db.ratelimit_store import PostgresStorage
from tests.support.processes import free_port

# High enough that no call is refused: a refusal costs one more read than a pass.
LIMIT = ScopeLimit(per_minute=1_000_000, burst=0)
CLIENTS = 16

Call = Callable[[Principal], Awaitable[object]]


async def latencies(call: Call, calls: int, clients: int) -> list[float]:
    """Milliseconds per call, ``calls`` spread over ``clients`` identities at once."""
    people = [Principal(id=f"user-{n}", kind="jwt", scopes=SCOPES) for n in range(clients)]
    return await _timing.latencies(call, people, calls // clients)


async def measure(limiter: Limiter, calls: int, db: Database | None) -> dict[str, float]:
    numbers: dict[str, float] = {}
    cases: dict[str, Call] = {
        "hit": lambda who: limiter.hit(who, "chat"),
    }
    if db is not None:  # the floor: one pooled transaction of SELECT 1
        cases["ping"] = lambda _: db.ping()
    for name, call in cases.items():
        await latencies(call, 50, 1)  # warm the pool and the plans
        for clients in (1, CLIENTS):
            times = await latencies(call, calls, clients)
            numbers |= _timing.summarize(f"{name}_c{clients}", times)
    return numbers


@contextmanager
def redis_server() -> Iterator[str | None]:
    """A throwaway redis-server on loopback, or None where none is installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


async def run(calls: int) -> dict[str, float]:
    settings = Settings(db_pool_max_size=CLIENTS)
    memory = Limiter(default=LIMIT)
    numbers = {f"memory_{k}": v for k, v in (await measure(memory, calls, None)).items()}
    async with bench_database(settings) as db:
        shared = Limiter(default=LIMIT, storage=PostgresStorage(db=db))
        numbers |= {f"postgres_{k}": v for k, v in (await measure(shared, calls, db)).items()}
    # Redis, the alternative the issue names: a component more to run, for this much less.
    with redis_server() as url:
        if url is not None:
            redis = Limiter(default=LIMIT, storage=create_storage(url))
            numbers |= {f"redis_{k}": v for k, v in (await measure(redis, calls, None)).items()}
    for name in ("hit_c1", "hit_c16"):
        added = numbers[f"postgres_{name}_p50_ms"] - numbers[f"memory_{name}_p50_ms"]
        numbers[f"added_{name}_p50_ms"] = round(added, 3)
    return numbers


def main() -> None:
    _report.main_with_count(
        "ratelimit", __doc__, run, flag="--calls", default=2000, about="Calls per case."
    )


if __name__ == "__main__":
    main()
