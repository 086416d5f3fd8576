"""Chat request overhead: the agent's POST /v1/chat against a raw pipeline script.

Both sides answer the same questions over the same knowledge base (the bundled
sample docs) with the same zero-latency local LLM (the fake OpenAI server, no
delay, streamed through the real openai SDK), 16 concurrent clients each:

- raw: embed the question + the hybrid retrieval SQL + one streamed chat call;
- agent: the real app under uvicorn in its own process (auth, rate limits,
  middleware, conversation storage, citations, metrics) driven over HTTP.

Prints both throughputs and their ratio; the goal is raw / agent <= 1.2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import openai

from bench._pg import bench_database
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.rag import embeddings, ingest, prompts, retrieval, samples
from ragagent.rag.types import Embedder
from tests.support.fake_openai import FakeOpenAI, ServerThread, free_port

log = logging.getLogger(__name__)

QUESTIONS = [
    "How do I run RagAgent locally?",
    "Which embedding model does RagAgent use?",
    "How does hybrid retrieval work?",
    "How are documents chunked?",
    "What does the operator manage in Kubernetes?",
    "How do API keys work?",
    "What metrics are exported?",
    "How do I use the OpenAI-compatible endpoint?",
]
GOAL = 1.2


async def measure(worker: Callable[[str], Awaitable[None]], total: int, clients: int) -> float:
    """Requests per second for ``total`` requests spread over ``clients`` concurrent loops."""
    queue = list(range(total))

    async def client() -> None:
        while queue:
            await worker(QUESTIONS[queue.pop() % len(QUESTIONS)])

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return total / (time.perf_counter() - started)


def raw_worker(
    db: Database, embedder: Embedder, llm: openai.AsyncOpenAI, settings: Settings
) -> Callable[[str], Awaitable[None]]:
    async def answer(question: str) -> None:
        chunks = await retrieval.retrieve(
            db=db,
            embedder=embedder,
            query=question,
            **retrieval.build_ranking(settings),
        )
        messages = prompts.build_messages(
            question=question, history=[], chunks=chunks, history_budget=0, max_turns=0
        )
        params: Any = messages  # plain role/content dicts are valid message params
        stream = await llm.chat.completions.create(
            model="bench", messages=params, stream=True, stream_options={"include_usage": True}
        )
        async for _ in stream:
            pass

    return answer


def agent_worker(http: httpx.AsyncClient) -> Callable[[str], Awaitable[None]]:
    async def answer(question: str) -> None:
        response = await http.post("/v1/chat", json={"message": question})
        response.raise_for_status()

    return answer


def agent_env(db_url: str, llm_url: str, data_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "RAGAGENT_DATABASE_URL": db_url,
        "RAGAGENT_DATA_DIR": data_dir,
        "RAGAGENT_AUTH_DISABLED": "true",
        "RAGAGENT_LLM_PROVIDER": "openai",
        "OPENAI_BASE_URL": llm_url,
        "OPENAI_API_KEY": "bench",
        "RAGAGENT_CHAT_MODEL": "bench",
        "RAGAGENT_INGEST_SAMPLES_ON_START": "false",
        "RAGAGENT_METRICS_PORT": "0",
        "RAGAGENT_RATE_LIMIT_REQUESTS_PER_MINUTE": "10000000",
        "RAGAGENT_RATE_LIMIT_BURST": "1000000",
        "RAGAGENT_PREAUTH_REQUESTS_PER_MINUTE": "10000000",
        "RAGAGENT_RATE_LIMIT_TOKENS_PER_DAY": "1000000000",
        "RAGAGENT_LOG_LEVEL": "WARNING",
    }


def start_agent(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """The real app in its own uvicorn process; returns once /healthz answers."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "ragagent.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("the agent did not become healthy")


async def run(total: int, clients: int, rounds: int) -> tuple[float, float]:
    settings = Settings(ingest_samples_on_start=False, llm_provider="extractive")
    embedder = embeddings.create_embedder(settings)
    fake = FakeOpenAI()
    with ServerThread(fake.app) as llm_server:
        llm_url = f"{llm_server.url}/v1"
        async with bench_database(settings) as db:
            docs = samples.load_sample_documents()
            await ingest.ingest_documents(db=db, embedder=embedder, settings=settings, docs=docs)
            llm = openai.AsyncOpenAI(base_url=llm_url, api_key="bench", max_retries=0)
            try:
                raw = raw_worker(db, embedder, llm, settings)
                return await compare(raw, db.url, llm_url, total, clients, rounds)
            finally:
                await llm.close()


async def compare(
    raw: Callable[[str], Awaitable[None]],
    db_url: str,
    llm_url: str,
    total: int,
    clients: int,
    rounds: int,
) -> tuple[float, float]:
    """Alternate raw and agent rounds, so drifting load on a shared machine hits both alike."""
    with tempfile.TemporaryDirectory(prefix="ragagent-bench-chat-") as data_dir:
        process, url = start_agent(agent_env(db_url, llm_url, data_dir))
        try:
            limits = httpx.Limits(max_connections=clients)
            async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
                agent = agent_worker(http)
                await measure(raw, clients, clients)  # warm-up
                await measure(agent, clients, clients)
                per_round = max(clients, total // rounds)
                raw_rates, agent_rates = [], []
                for _ in range(rounds):
                    raw_rates.append(await measure(raw, per_round, clients))
                    agent_rates.append(await measure(agent, per_round, clients))
        finally:
            process.terminate()
            process.wait(timeout=30)
    return statistics.fmean(raw_rates), statistics.fmean(agent_rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    raw_rps, agent_rps = asyncio.run(run(args.requests, args.clients, args.rounds))
    ratio = raw_rps / agent_rps
    verdict = "ok" if ratio <= GOAL else "ABOVE GOAL"
    print(
        f"chat overhead ({args.requests} requests, {args.clients} clients, zero-latency LLM): "
        f"raw pipeline {raw_rps:.1f} req/s, agent /v1/chat {agent_rps:.1f} req/s, "
        f"ratio {ratio:.2f}x (goal <= {GOAL}x: {verdict})"
    )


if __name__ == "__main__":
    main()
