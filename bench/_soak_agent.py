"""A real ``ragagent serve`` process on a real PostgreSQL, for the agent soak scenarios.

The database is the embedded pgserver (PostgreSQL 18 + pgvector) in a temporary directory,
which a scenario may stop and start again (``tests.support.stoppable_pg``). The agent is the program
``make run`` starts (uvicorn under ``ragagent serve``) in its own process group, configured
only through its environment: the scenario's clients all share one identity (no auth), so the
per-identity limits are raised for the test instead of the defaults being weakened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench._soak import read_rss_mib
from tests.support import processes
from tests.support.stoppable_pg import StoppableDatabase

# One identity makes every request here; these keep its limits out of the measurement.
LOAD_LIMITS = {
    "RAGAGENT_RATE_LIMIT_REQUESTS_PER_MINUTE": "10000000",
    "RAGAGENT_RATE_LIMIT_BURST": "1000000",
    "RAGAGENT_RATE_LIMIT_TOKENS_PER_DAY": "1000000000000",
    "RAGAGENT_PREAUTH_REQUESTS_PER_MINUTE": "10000000",
    "RAGAGENT_PREAUTH_BURST": "1000000",
    "RAGAGENT_WS_MAX_PER_PRINCIPAL": "10000",
}
# The corpus every scenario asks about: short, so seeding takes a second.
CORPUS = {
    "tea": "Green tea is steeped at 80 degrees Celsius for two minutes.",
    "backups": "RagAgent backs up PostgreSQL nightly with pg_dump to a persistent volume.",
    "limits": "Rate limits are counted per identity, in PostgreSQL when several replicas run.",
    "bread": "Sourdough bread rises overnight in a cool kitchen before it is baked.",
    "bikes": "A bicycle chain should be cleaned and oiled every few hundred kilometres.",
}
QUESTIONS = (
    "How hot should the water be for green tea?",
    "How does RagAgent back up PostgreSQL?",
    "Where are rate limits counted?",
    "How long does sourdough bread rise?",
    "How often should a bicycle chain be oiled?",
)


@dataclass
class Agent:
    """A running ``ragagent serve``: its process and its base URL."""

    component: processes.Component
    base: str

    @property
    def pid(self) -> int:
        return self.component.process.pid

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/v1/ws/chat"

    def rss_mib(self) -> float:
        return read_rss_mib(self.pid)


def agent_environment(db_url: str, data_dir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The agent's environment: this database, the offline answerer unless ``extra`` names an
    LLM, no metrics port, no samples, no auth, and the load limits above."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAGAGENT_"))}
    return {
        **inherited,
        "RAGAGENT_DATABASE_URL": db_url,
        "RAGAGENT_DATA_DIR": str(data_dir),
        "RAGAGENT_METRICS_PORT": "0",
        "RAGAGENT_INGEST_SAMPLES_ON_START": "false",
        "RAGAGENT_AUTH_DISABLED": "true",
        "RAGAGENT_LOG_LEVEL": "WARNING",
        **LOAD_LIMITS,
        **extra,
    }


def start_agent(db_url: str, work_dir: Path, extra: Mapping[str, str] | None = None) -> Agent:
    """Start ``ragagent serve`` on a free loopback port and wait until /readyz answers 200."""
    port = processes.free_port()
    command = [str(Path(sys.executable).with_name("ragagent")), "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    env = agent_environment(db_url, work_dir / "agent-data", extra or {})
    component = processes.start("agent", command, log_dir=work_dir, env=env)
    base = f"http://127.0.0.1:{port}"
    with processes.undone_on_failure(component.stop):
        processes.wait_until(
            "the agent's /readyz",
            lambda: processes.http_ok(f"{base}/readyz"),
            timeout=180,
            watch=[component],
        )
        seed(base)
    return Agent(component, base)


def seed(base: str) -> None:
    """Ingest the corpus, so every question has a passage to answer from."""
    for external_id, text in CORPUS.items():
        document = {"external_id": external_id, "title": external_id.title(), "text": text}
        response = httpx.post(f"{base}/v1/documents", json=document, timeout=120)
        response.raise_for_status()


@contextlib.contextmanager
def running(
    extra: Mapping[str, str] | None = None,
) -> Iterator[tuple[StoppableDatabase, Agent]]:
    """A fresh database and an agent on it, both gone (with their files) afterwards."""
    work_dir = Path(tempfile.mkdtemp(prefix="ragagent-soak-"))
    database = StoppableDatabase(work_dir / "pg")
    try:
        agent = start_agent(database.url, work_dir, extra)
        try:
            yield database, agent
        finally:
            agent.component.stop()
    finally:
        database.close()
        shutil.rmtree(work_dir, ignore_errors=True)
