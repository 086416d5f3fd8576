"""What the autoscaling step measures with: chat load from a client pod, the CPU figures
``kubectl top`` shows, a watch of the Deployment's generation and replicas, and the host
operator's reconcile counters."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support import controlplane

# Run in the client pod: chat completions at argv[1] from argv[3] threads, together at most
# argv[2] a second, until stdin closes (the key is its first line, never on a command line)
# or argv[4] seconds pass; then prints the count of each HTTP status (or error and its reason)
# as JSON.
# Each question differs, so no answer or embedding could come from a cache.
LOAD_SCRIPT = """
import json, sys, threading, time, urllib.error, urllib.request
key = sys.stdin.readline().strip()
url, rate, workers, limit = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
stop, lock, counts = threading.Event(), threading.Lock(), {}
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
def ask(n):
    question = f"How do the agent's replicas scale under load number {n}?"
    body = {"model": "ragagent", "messages": [{"role": "user", "content": question}]}
    request = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return str(response.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except OSError as error:  # named with its reason: refused, reset, DNS, timed out
        return f"{type(error).__name__}: {getattr(error, 'reason', error)}"
def work(index):
    n = index
    while not stop.is_set():
        started = time.monotonic()
        outcome = ask(n)
        with lock:
            counts[outcome] = counts.get(outcome, 0) + 1
        n += workers
        stop.wait(max(0.0, workers / rate - (time.monotonic() - started)))
threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
for thread in threads:
    thread.start()
stop.wait(limit)
stop.set()
for thread in threads:
    thread.join()
print(json.dumps(counts))
"""
TOP_LINE = re.compile(r"^(\S+)\s+(\d+)m\s", re.MULTILINE)


class ChatLoad:
    """``LOAD_SCRIPT`` running in a client pod through ``kubectl exec -i``."""

    def __init__(
        self,
        cluster: controlplane.ControlPlane,
        namespace: str,
        pod: str,
        *,
        url: str,
        key: str,
        rate: float,
        workers: int,
        limit_seconds: float,
    ) -> None:
        argv = [
            str(cluster.tool("kubectl")), f"--kubeconfig={cluster.kubeconfig_path}",
            "exec", "-i", "-n", namespace, pod, "--", "python3", "-c", LOAD_SCRIPT,
            url, str(rate), str(workers), str(limit_seconds),
        ]  # fmt: skip
        self.limit_seconds = limit_seconds
        self.counts: dict[str, int] | None = None
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self._process.stdin is not None
        self._process.stdin.write(key + "\n")
        self._process.stdin.flush()

    def stop(self) -> dict[str, int]:
        """Closes the script's stdin (it finishes the requests in flight) and returns its
        counts; idempotent. Fails with kubectl's error output when no counts came back."""
        if self.counts is not None:
            return self.counts
        try:  # with no input, communicate closes the script's stdin: its signal to stop
            out, err = self._process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self._process.kill()
            out, err = self._process.communicate()
        lines = out.strip().splitlines()
        assert lines, f"the load script printed no counts (exit {self._process.returncode}): {err}"
        self.counts = {str(k): int(v) for k, v in json.loads(lines[-1]).items()}
        return self.counts


def millicores(quantity: str) -> float:
    """A CPU quantity ("250m", "1", "0.5") in millicores."""
    if quantity.endswith("m"):
        return float(quantity[:-1])
    return float(quantity) * 1000


def top_millicores(
    cluster: controlplane.ControlPlane, namespace: str, selector: str
) -> dict[str, int]:
    """Pod name -> CPU millicores per ``kubectl top pod`` (metrics-server); {} while it has no
    figure for them yet."""
    result = cluster.kubectl(
        "top", "pod", "-n", namespace, "-l", selector, "--no-headers", check=False
    )
    return {name: int(cores) for name, cores in TOP_LINE.findall(result.stdout)}


def reconciles(metrics_port: int, trigger: str) -> float:
    """The host operator's ``ragagent_operator_reconciles_total`` for ``trigger``, any result."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ragagent_operator_reconciles_total"
        and sample.labels.get("trigger") == trigger
    )


class DeploymentWatch:
    """``kubectl get -w`` of one Deployment: a line ``<generation> <spec.replicas>`` per
    version of it, the first one as it was when the watch began."""

    def __init__(
        self, cluster: controlplane.ControlPlane, namespace: str, name: str, path: Path
    ) -> None:
        template = '{.metadata.generation} {.spec.replicas}{"\\n"}'
        argv = [
            str(cluster.tool("kubectl")), f"--kubeconfig={cluster.kubeconfig_path}",
            "get", "deployment", name, "-n", namespace, "-w", "-o", f"jsonpath={template}",
        ]  # fmt: skip
        self.path = path
        with path.open("w") as sink:
            self._process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)

    def versions(self) -> list[tuple[int, int]]:
        """(generation, spec.replicas) of every version seen so far, in order."""
        found = re.findall(r"^(\d+) (\d+)$", self.path.read_text(), re.MULTILINE)
        return [(int(generation), int(replicas)) for generation, replicas in found]

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


def changes(versions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Only the versions whose generation or replicas differ from the one before."""
    return [v for i, v in enumerate(versions) if i == 0 or v != versions[i - 1]]
