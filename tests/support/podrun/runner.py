"""Runs a RunPlan with podman the way the kubelet runs the container (I/O; the rest is pure).

- Before start: the host layout is written, a runAsNonRoot container without runAsUser
  must have a numeric non-zero image user (the kubelet's check), and the pod's ports must
  be free on the host (the pod shares its network).
- ``stop``: the preStop sleep, then SIGTERM, then SIGKILL when the grace period is over.
- ``termination_message``: the file's first 4096 bytes, or with FallbackToLogsOnError and
  a failed, silent container, the last 80 log lines (at most 2048 bytes).

podman runs through ``tests.support.images.podman_command`` (the project's containers.conf).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.support import images
from tests.support.podrun import materialise, model

MESSAGE_LIMIT, LOG_LINES, LOG_LIMIT = 4096, 80, 2048


class PodmanError(RuntimeError):
    """podman failed, or the container did not become ready or finish in time."""


def podman(
    *args: str, timeout: float = 120.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        images.podman_command(*args), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise PodmanError(
            f"podman {' '.join(args[:3])} exited {result.returncode}: {result.stderr}"
        )
    return result


@dataclass(frozen=True)
class Container:
    """A started container of a plan."""

    plan: model.RunPlan

    @property
    def name(self) -> str:
        return self.plan.name

    def logs(self) -> tuple[str, str]:
        """(stdout, stderr) so far."""
        result = podman("logs", self.name, check=False)
        return result.stdout, result.stderr

    def exec(self, *argv: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Runs ``argv`` in the container, as its user and with its environment."""
        return podman("exec", self.name, *argv, timeout=timeout, check=False)

    def state(self) -> dict[str, Any]:
        result = podman("inspect", "--format", "{{json .State}}", self.name)
        state: dict[str, Any] = json.loads(result.stdout)
        return state

    def is_running(self) -> bool:
        return bool(self.state().get("Running"))

    def exit_code(self) -> int:
        return int(self.state()["ExitCode"])


@dataclass(frozen=True)
class Finished:
    """A container that ran to its end."""

    exit_code: int
    stdout: str
    stderr: str
    termination_message: str

    def last_json(self) -> dict[str, Any]:
        """The last stdout line, parsed (the result line of ``ragagent backup``/``restore``)."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        return result

    def describe(self) -> str:
        out, err = self.stdout[-4000:], self.stderr[-4000:]
        return f"exit {self.exit_code}\n--- stdout\n{out}\n--- stderr\n{err}"


def start(plan: model.RunPlan) -> Container:
    """Writes the host layout and starts the container detached."""
    remove(plan.name)
    materialise.write_layout(plan.layout)
    _check_non_root(plan)
    _check_ports_free(plan)
    podman(*plan.argv("--detach", "--log-driver=k8s-file"))
    return Container(plan)


def run_to_completion(plan: model.RunPlan, *, timeout: float = 300.0) -> Finished:
    """Starts the container, waits for its exit and removes it (its output is kept).

    On timeout the container is killed and PodmanError raised.
    """
    container = start(plan)
    try:
        podman("wait", container.name, timeout=timeout)
        return finished(container)
    except subprocess.TimeoutExpired:
        _, stderr = container.logs()
        raise PodmanError(
            f"{plan.name} still running after {timeout} s\n{stderr[-3000:]}"
        ) from None
    finally:
        remove(container.name)


def finished(container: Container) -> Finished:
    code = container.exit_code()
    stdout, stderr = container.logs()
    return Finished(
        code, stdout, stderr, termination_message(container.plan, code, stdout + stderr)
    )


def termination_message(plan: model.RunPlan, exit_code: int, logs: str) -> str:
    message = plan.termination_log.read_bytes()[:MESSAGE_LIMIT].decode(errors="replace")
    if message or exit_code == 0 or plan.termination_policy != "FallbackToLogsOnError":
        return message
    tail = "\n".join(logs.splitlines()[-LOG_LINES:])
    return tail.encode()[-LOG_LIMIT:].decode(errors="replace")


def stop(container: Container) -> int:
    """The kubelet's shutdown: preStop sleep, SIGTERM, SIGKILL after the grace period."""
    plan = container.plan
    time.sleep(plan.pre_stop_seconds)
    remaining = max(plan.grace_seconds - plan.pre_stop_seconds, 0)
    podman("stop", f"--time={remaining}", container.name, timeout=remaining + 60)
    return container.exit_code()


def remove(name: str) -> None:
    podman("rm", "--force", "--ignore", name, check=False)


@contextlib.contextmanager
def running(plan: model.RunPlan, *, timeout: float) -> Iterator[Container]:
    """Starts ``plan`` and waits until it is ready; on the way out stops it (when still
    running) and removes it."""
    container = start(plan)
    try:
        wait_ready(container, timeout=timeout)
        yield container
    finally:
        if container.is_running():
            stop(container)
        remove(container.name)


def wait_ready(container: Container, *, timeout: float = 180.0) -> None:
    """Polls the startup probe, then the readiness probe, until one success each."""
    deadline = time.monotonic() + timeout
    for probe in (container.plan.startup, container.plan.readiness):
        if probe is None:
            continue
        while not probe_once(container, probe):
            if time.monotonic() > deadline or not container.is_running():
                _, stderr = container.logs()
                raise PodmanError(f"{container.name} not ready ({probe})\n{stderr[-3000:]}")
            time.sleep(min(probe.period_seconds, 1.0))


def probe_once(container: Container, probe: model.Probe) -> bool:
    """One probe attempt: HTTP 200-399, a TCP connect, or an exec exit 0."""
    if probe.action == "exec":
        return container.exec(*probe.command, timeout=probe.timeout_seconds + 30).returncode == 0
    if probe.action == "tcp":
        return _port_open(probe.port)
    url = f"http://127.0.0.1:{probe.port}{probe.path}"
    request = urllib.request.Request(url, headers=dict(probe.headers))
    try:
        # The URL is always http://127.0.0.1 built above, never a caller-chosen scheme.
        with urllib.request.urlopen(request, timeout=probe.timeout_seconds) as response:  # noqa: S310
            return 200 <= int(response.status) < 400
    except OSError:
        return False


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _check_ports_free(plan: model.RunPlan) -> None:
    taken = sorted(port for port in plan.ports.values() if _port_open(port))
    if taken:
        raise PodmanError(f"{plan.name}: host ports {taken} are in use (the pod uses the host's)")


def _check_non_root(plan: model.RunPlan) -> None:
    """The kubelet refuses runAsNonRoot when the image user is root or not numeric."""
    if not plan.run_as_non_root or plan.run_as_user is not None:
        return
    user = podman("image", "inspect", "--format", "{{.Config.User}}", plan.image).stdout.strip()
    uid = user.split(":")[0]
    if not uid.isdigit() or int(uid) == 0:
        raise PodmanError(f"{plan.image}: runAsNonRoot but the image user is {user!r}")
