"""Talking to a RagAgent on the real node as a user does: an API key from ``kubectl exec``,
``kubectl port-forward`` to its Service, the official OpenAI SDK and a WebSocket client."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import openai
from websockets.sync.client import connect

from tests.support import controlplane

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+)")
KEY_LINE = re.compile(r"^key:\s+(\S+)$", re.MULTILINE)
APP_PORT = 8000
TIMEOUT_SECONDS = 120.0


def create_api_key(cluster: controlplane.ControlPlane, namespace: str, deployment: str) -> str:
    """``kubectl exec deploy/<name> -- ragagent apikey create``; the printed key."""
    done = cluster.kubectl(
        "exec", "-n", namespace, f"deploy/{deployment}", "--",
        "ragagent", "apikey", "create", "--name", "e2e", "--scopes", "chat",
    )  # fmt: skip
    found = KEY_LINE.search(done.stdout)
    assert found, f"no key in the output of apikey create: {done.stderr}"
    return found.group(1)


@contextlib.contextmanager
def port_forward(cluster: controlplane.ControlPlane, namespace: str, target: str) -> Iterator[str]:
    """Runs ``kubectl port-forward <target> :8000`` and yields ``http://127.0.0.1:<port>``."""
    argv = [
        str(cluster.tool("kubectl")), f"--kubeconfig={cluster.kubeconfig_path}",
        "port-forward", "-n", namespace, target, f":{APP_PORT}",
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until kubectl forwards, or exits
        found = FORWARDING.search(line)
        assert found, (
            f"port-forward did not start: {line}{process.stderr and process.stderr.read()}"
        )
        yield f"http://127.0.0.1:{found.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def ask_openai(base_url: str, key: str, question: str) -> tuple[str, list[dict[str, Any]]]:
    """One chat completion with the official SDK; the answer and the agent's citations."""
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, timeout=TIMEOUT_SECONDS)
    completion = client.chat.completions.create(
        model="ragagent", messages=[{"role": "user", "content": question}]
    )
    extra = completion.model_extra or {}
    return completion.choices[0].message.content or "", list(extra.get("citations") or [])


def ask_websocket(base_url: str, key: str, question: str) -> tuple[str, list[dict[str, Any]]]:
    """One question over /v1/ws/chat; the streamed answer and its citations."""
    url = base_url.replace("http://", "ws://") + "/v1/ws/chat"
    text, citations = [], []
    with connect(url, additional_headers={"X-API-Key": key}, open_timeout=30) as socket:
        socket.send(json.dumps({"message": question}))
        while True:
            event = json.loads(socket.recv(timeout=TIMEOUT_SECONDS))
            if event["type"] == "token":
                text.append(event["text"])
            elif event["type"] == "citations":
                citations = list(event["citations"])
            elif event["type"] in ("done", "error"):
                assert event["type"] == "done", event
                return "".join(text), citations


def cites(citation: dict[str, Any], file_name: str) -> bool:
    """Whether a citation points at the ConfigMap key ``file_name`` (its title or id)."""
    stem = file_name.rsplit(".", 1)[0]
    return any(stem in str(citation.get(field, "")) for field in ("title", "external_id"))
