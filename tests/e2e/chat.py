"""Talking to a RagAgent on the real node as a user does: an API key from ``kubectl exec``,
``kubectl port-forward`` to its Service, the official OpenAI SDK and a WebSocket client."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import openai
from websockets.sync.client import connect

from tests.support import controlplane

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+)")
KEY_LINE = re.compile(r"^key:\s+(\S+)$", re.MULTILINE)
APP_PORT = 8000
TIMEOUT_SECONDS = 120.0
# One question, asked again: (answer, citations).
Ask = Callable[[], tuple[str, list[dict[str, Any]]]]


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
    """Runs ``kubectl port-forward <target> :8000`` and yields ``http://localhost:<port>``."""
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
        # As a user opens it: the agent trusts its own Service names and localhost only.
        yield f"http://localhost:{found.group(1)}"
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


# Run in a client pod: one chat completion at argv[1] with the key read from stdin (never on
# a command line); prints the response's JSON.
IN_POD_CHAT = """
import json, sys, urllib.request
key = sys.stdin.read().strip()
body = {"model": "ragagent", "messages": [{"role": "user", "content": sys.argv[2]}]}
request = urllib.request.Request(
    sys.argv[1] + "/v1/chat/completions", data=json.dumps(body).encode(),
    headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"},
)
print(json.dumps(json.load(urllib.request.urlopen(request, timeout=110))))
"""


def ask_from_pod(
    cluster: controlplane.ControlPlane,
    namespace: str,
    pod: str,
    *,
    url: str,
    key: str,
    question: str,
) -> tuple[str, list[dict[str, Any]]]:
    """One chat completion from inside ``pod`` to ``url`` (a Service); answer, citations."""
    done = cluster.kubectl(
        "exec", "-i", "-n", namespace, pod, "--", "python3", "-c", IN_POD_CHAT, url, question,
        input=key,
    )  # fmt: skip
    response = json.loads(done.stdout)
    answer = response["choices"][0]["message"]["content"] or ""
    return answer, list(response.get("citations") or [])


def answer_or_empty(ask: Ask) -> str:
    """``ask()``'s answer, or '' while the agent's pods are not serving (yet)."""
    try:
        return ask()[0]
    except (controlplane.KubectlError, ValueError):
        return ""
