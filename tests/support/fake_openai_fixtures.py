"""The pytest fixtures of the fake OpenAI servers (chat completions and embeddings).

They live apart from the servers so that the servers' modules import without pytest: the
end-to-end test runs the fake embeddings server in a pod of the agent image.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

# Aliased: the module's own name is a fixture's.
from tests.support import fake_openai as servers
from tests.support import fake_openai_embeddings


@pytest.fixture(scope="session")
def openai_servers() -> Iterator[servers.FakeServers]:
    with contextlib.ExitStack() as stack:
        yield servers.FakeServers(stack)


@pytest.fixture
def fake_openai(openai_servers: servers.FakeServers) -> servers.FakeOpenAI:
    """The shared fake server with fresh behaviour for this test."""
    return openai_servers.fresh(0)


@pytest.fixture
def second_openai(openai_servers: servers.FakeServers) -> servers.FakeOpenAI:
    """A second, independent fake server (a fallback provider), fresh for this test."""
    return openai_servers.fresh(1)


@pytest.fixture(scope="session")
def fake_embeddings_server() -> Iterator[fake_openai_embeddings.FakeEmbeddings]:
    yield from servers.serve(fake_openai_embeddings.FakeEmbeddings())


@pytest.fixture
def fake_embeddings(
    fake_embeddings_server: fake_openai_embeddings.FakeEmbeddings,
) -> fake_openai_embeddings.FakeEmbeddings:
    """The shared fake embeddings server with fresh behaviour for this test."""
    fake_embeddings_server.reset()
    return fake_embeddings_server
