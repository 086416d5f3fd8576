"""Fixtures for the container tests: the built images, and one RagAgent's pods under podman.

The pods share one managed database (the PostgreSQL image run as its rendered StatefulSet
pod) and one knowledge ingestion for the whole session, so the module stays within a few
minutes on two cores. Select them with ``-m containers``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ragagent_operator.render import ingest_job, postgres
from tests.containers import stack as stacks
from tests.support import images as built_images
from tests.support.podrun import runner

KNOWLEDGE_HASH = "0123456789abcdef"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "containers: runs the project's images with podman as the rendered pods"
    )


@pytest.fixture(scope="session")
def images() -> built_images.ImageRefs:
    """The agent, operator and PostgreSQL images (built when missing; skips loudly, or
    fails under CI, when they cannot be built)."""
    return built_images.require_images()


@pytest.fixture(scope="session")
def stack(images: built_images.ImageRefs, tmp_path_factory: pytest.TempPathFactory) -> stacks.Stack:
    agent = stacks.build_rag_agent((images.agent, images.postgres))
    workdir = tmp_path_factory.mktemp("podrun")
    return stacks.Stack(agent, stacks.build_generated_secret(agent), workdir)


@pytest.fixture(scope="session")
def database_pod(stack: stacks.Stack) -> Iterator[list[runner.Container]]:
    """The managed PostgreSQL, run as the rendered StatefulSet's pod: the server, then its
    TLS front on the port, each ready."""
    started: list[runner.Container] = []
    try:
        for plan in stack.plan_pod(postgres.build_postgres_statefulset(stack.agent)):
            started.append(runner.start(plan))
            runner.wait_ready(started[-1], timeout=120)
        yield started
    finally:
        for container in reversed(started):
            runner.stop(container)
            runner.remove(container.name)


@pytest.fixture(scope="session")
def database(database_pod: list[runner.Container]) -> runner.Container:
    """The managed database pod's server container."""
    return database_pod[0]


@pytest.fixture(scope="session")
def ingested(stack: stacks.Stack, database: runner.Container) -> runner.Finished:
    """The ingest Job's pod, run once over the knowledge ConfigMap."""
    job = ingest_job.build_ingest_job(
        stack.agent, knowledge_hash=KNOWLEDGE_HASH, image=stack.agent.image
    )
    return stack.run(job)


@pytest.fixture(scope="session")
def host_db_url(stack: stacks.Stack, database: runner.Container) -> str:
    return stack.host_db_url()
