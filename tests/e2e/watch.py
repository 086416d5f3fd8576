"""Chat kept going while the RagAgent changes: a client pod asks through the agent's Service
until told to stop, one JSON line per answer, so a step can show that no request failed
and no answer was cut while a re-index or a rolling update ran.

Each watcher is a Python script run with ``kubectl exec -i`` in a client pod (the Service
routes there as for any user); the API key goes on stdin, never on a command line, and
closing stdin stops the script.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support import controlplane

# The script stops by itself after this long, should the test never close its stdin.
LIMIT_SECONDS = 900
# Shared by both scripts: the key from stdin's first line, then a stop flag set when stdin
# closes (the test is done), or after LIMIT_SECONDS. The Service's name is looked up once, as
# a client with a DNS cache does: every request then goes to its ClusterIP, the path a
# rolling update or a re-index changes behind, and a slow cluster DNS on the saturated
# machine cannot fail a request that never reached the agent (cluster DNS has tests of its
# own: journey step 8 and tests/node).
PRELUDE = f"""
import json, sys, threading, time
key = sys.stdin.readline().strip()
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
limit = threading.Timer({LIMIT_SECONDS}, stop.set)
limit.daemon = True
limit.start()
def emit(**record):
    print(json.dumps({{"t": round(time.time(), 2), **record}}), flush=True)
import socket, urllib.parse
where = urllib.parse.urlsplit(sys.argv[1])
def resolve():
    for attempt in range(30):
        try:
            return socket.getaddrinfo(where.hostname, where.port, type=socket.SOCK_STREAM)[0][4][0]
        except OSError as error:
            emit(kind="lookup", error=repr(error)[:200])
            time.sleep(1)
    raise SystemExit("the Service name never resolved")
address = resolve()
"""
# One chat completion a second (argv: Service URL, question); a failure keeps its status
# code and the start of its body. The Host header keeps the Service's name (the agent
# answers only the hosts it serves).
REST = PRELUDE + (
    """
import urllib.error, urllib.request
body = json.dumps({"model": "ragagent", "messages": [{"role": "user", "content": sys.argv[2]}]})
while not stop.is_set():
    started = time.monotonic()
    request = urllib.request.Request(
        f"{where.scheme}://{address}:{where.port}/v1/chat/completions", data=body.encode(),
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json",
                 "Host": where.netloc},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            found = json.load(response)
        emit(status=200, answer=found["choices"][0]["message"]["content"],
             citations=len(found.get("citations") or []))
    except urllib.error.HTTPError as error:
        emit(status=error.code, body=error.read().decode(errors="replace")[:500])
    except Exception as error:
        emit(status=0, body=repr(error)[:500])
    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
"""
)
# Questions streamed over one WebSocket, asked again and again (argv: ws URL, question).
# A close with 1001 between answers is the drain's documented "reconnect to ask again":
# the script reconnects and asks once more. Anything else that ends an answer before its
# "done" (an error event, a close mid-stream) is recorded as cut.
WEBSOCKET = PRELUDE + (
    """
from websockets.sync.client import connect
from websockets.exceptions import ConnectionClosed
def answer(socket):
    socket.send(json.dumps({"message": sys.argv[2]}))
    tokens, citations = [], []
    while True:
        try:
            event = json.loads(socket.recv(timeout=60))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
            kind = "refused" if not tokens and code == 1001 else "cut"
            emit(kind=kind, code=code, tokens=len(tokens))
            return False
        if event["type"] == "token":
            tokens.append(event["text"])
        elif event["type"] == "citations":
            citations = event["citations"]
        elif event["type"] == "error":
            emit(kind="cut", event=event, tokens=len(tokens))
            return False
        elif event["type"] == "done":
            emit(kind="answer", answer="".join(tokens), citations=len(citations))
            return True
while not stop.is_set():
    try:
        tcp = socket.create_connection((address, where.port), timeout=30)
        with connect(sys.argv[1], sock=tcp, additional_headers={"X-API-Key": key},
                     open_timeout=30) as s:
            emit(kind="connected")
            while not stop.is_set() and answer(s):
                time.sleep(0.5)
    except ConnectionClosed as closed:
        emit(kind="closed", code=closed.rcvd.code if closed.rcvd else 1006)
    except Exception as error:
        emit(kind="failed", error=repr(error)[:500])
        time.sleep(1)
"""
)


@dataclass
class Watch:
    """A running watcher and the records it printed so far."""

    process: subprocess.Popen[str]
    records: list[dict[str, Any]] = field(default_factory=list)

    def read(self) -> None:
        """Appends each record as the script prints it (in a thread of its own)."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self.records.append(json.loads(line))

    def count(self, **match: Any) -> int:
        """How many records so far have every field of ``match``."""
        return sum(all(r.get(k) == v for k, v in match.items()) for r in list(self.records))


@contextmanager
def watching(
    cluster: controlplane.ControlPlane,
    namespace: str,
    pod: str,
    *,
    script: str,
    url: str,
    key: str,
    question: str,
) -> Iterator[Watch]:
    """Runs ``script`` in ``pod`` against ``url`` until the block ends; its records are in
    the yielded Watch as they come."""
    argv = [
        str(cluster.tool("kubectl")), f"--kubeconfig={cluster.kubeconfig_path}",
        "exec", "-i", "-n", namespace, pod, "--", "python3", "-c", script, url, question,
    ]  # fmt: skip
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdin is not None
    process.stdin.write(key + "\n")
    process.stdin.flush()
    watch = Watch(process)
    reader = threading.Thread(target=watch.read, daemon=True)
    reader.start()
    try:
        yield watch
    finally:
        process.stdin.close()  # the script's stop signal (an answer may still be on its way)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.terminate()  # the script itself then stops after LIMIT_SECONDS
            process.wait(timeout=10)
        reader.join(timeout=10)
        if not watch.records:
            assert process.stderr is not None
            raise AssertionError(f"the watcher in {pod} printed nothing: {process.stderr.read()}")


def failures(records: list[dict[str, Any]], fact: str) -> list[dict[str, Any]]:
    """REST records that are not a 200 answer holding ``fact`` with a citation (a request's
    record has a status; the start's lookup retries do not)."""
    requests = [r for r in records if "status" in r]
    return [
        r for r in requests if r["status"] != 200 or fact not in r["answer"] or not r["citations"]
    ]
