"""The agent image run as the operator's Deployment pod: ready, keys, chat, drain.

The pod is the one ``deployment.build_deployment`` renders for a RagAgent with a managed
database; it serves on the host's port 8000 (the pod shares the host network).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ragagent_operator import constants as c
from ragagent_operator.render import deployment
from tests.containers import stack as stacks
from tests.support.podrun import runner

pytestmark = pytest.mark.containers
# localhost, as probes and kubectl port-forward send it: the pod trusts only its own hosts.
BASE = f"http://localhost:{c.APP_PORT}"


@pytest.fixture(scope="module")
def agent_pod(stack: stacks.Stack, ingested: runner.Finished) -> Iterator[runner.Container]:
    assert ingested.exit_code == 0, ingested.describe()
    manifest = deployment.build_deployment(stack.agent, config_hash="c", secrets_hash="s")
    with runner.running(stack.plan(manifest), timeout=180) as container:
        yield container


@pytest.fixture(scope="module")
def api_key(agent_pod: runner.Container) -> str:
    """A key made by the CLI inside the running container, as an operator would."""
    made = agent_pod.exec("ragagent", "apikey", "create", "--name", "container-test")
    assert made.returncode == 0, made.stderr
    found = re.search(r"^key:\s+(\S+)$", made.stdout, re.MULTILINE)
    assert found is not None, made.stdout
    return found.group(1)


def test_the_agent_pod_turns_ready_on_the_managed_database(agent_pod: runner.Container) -> None:
    ready = httpx.get(f"{BASE}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert httpx.get(f"{BASE}/livez", timeout=10).status_code == 200


def test_a_chat_with_a_cli_made_key_answers_with_citations(api_key: str) -> None:
    question = {"message": "How far is the Brightwater lighthouse lamp visible?"}
    anonymous = httpx.post(f"{BASE}/v1/chat", json=question, timeout=60)
    assert anonymous.status_code == 401
    headers = {"Authorization": f"Bearer {api_key}"}
    answer = httpx.post(f"{BASE}/v1/chat", json=question, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    citations = answer.json()["citations"]
    assert citations, answer.json()
    # The ingest pod's ragagent sync names a ConfigMap's documents configmap/<name>/<key>.
    expected = f"configmap/{stacks.KNOWLEDGE_CONFIG_MAP}/lighthouse.md"
    assert citations[0]["external_id"] == expected


def test_sigterm_drains_open_websockets_and_the_agent_exits_zero(
    agent_pod: runner.Container, api_key: str
) -> None:
    """The kubelet's stop: preStop sleep, SIGTERM; WebSockets get 1001, the process exits 0."""
    headers = {"Authorization": f"Bearer {api_key}"}
    url = f"ws://localhost:{c.APP_PORT}/v1/ws/chat"
    codes: list[int] = []
    stopping = threading.Thread(target=lambda: codes.append(runner.stop(agent_pod)))
    grace = agent_pod.plan.grace_seconds
    with connect(url, additional_headers=headers, open_timeout=30) as socket:
        started = time.monotonic()
        stopping.start()
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=grace)
    stopping.join(timeout=grace + 30)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert codes == [0], agent_pod.logs()[1][-3000:]
    assert time.monotonic() - started < grace  # not killed at the end of the grace period
