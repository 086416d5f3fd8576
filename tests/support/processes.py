"""Child processes that cannot outlive the test run.

Each child gets its own process group (so its own children die with it) and, on Linux, a
parent-death signal, so that even a SIGKILLed pytest leaves no apiserver behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 5.0


class ProcessDiedError(RuntimeError):
    """A component exited while the control plane was starting or running."""


def free_port() -> int:
    """One port that was free a moment ago on 127.0.0.1 (see ``free_ports``)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free a moment ago on 127.0.0.1.

    The sockets stay open until all are chosen, so the ports differ from each other. Another
    program may still take one before our component binds it; ControlPlane retries then.
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def is_alive(pid: int) -> bool:
    """True while a process ``pid`` exists (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def http_ok(url: str) -> bool:
    """True when a GET of our component's plain-HTTP ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our http URL)
            return int(response.status) == 200
    except OSError:
        return False


def _die_with_parent() -> None:
    # Runs in the child between fork and exec. Failure is harmless (non-Linux): the
    # process-group kill on teardown still applies.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclasses.dataclass
class Component:
    """One running program of the control plane, with its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise ProcessDiedError(
                f"{self.name} exited with {code}; last log lines:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM to the whole group, then SIGKILL after a grace period. Idempotent."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_GRACE_SECONDS)
        # The leader may be gone while group members linger, so always sweep the group.
        _signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait()


def stop_all(components: Sequence[Component]) -> None:
    for component in components:
        component.stop()


@contextlib.contextmanager
def undone_on_failure(undo: Callable[[], object]) -> Iterator[None]:
    """Runs the block; when it raises (KeyboardInterrupt too) calls ``undo``, then re-raises.

    Every start sequence here uses it, so a half-started service never outlives the failure
    that stopped it: ``undo`` is the service's own idempotent ``stop``.
    """
    try:
        yield
    except BaseException:
        undo()
        raise


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def start(
    name: str,
    argv: Sequence[str],
    *,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
) -> Component:
    """Starts ``argv`` in a new session with stdout and stderr in ``log_dir/<name>.log``."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Component(name=name, process=process, log_path=log_path)


def wait_until(
    what: str,
    ready: Callable[[], bool],
    *,
    timeout: float,
    watch: Sequence[Component] = (),
    interval: float = 0.2,
) -> None:
    """Polls ``ready`` until it is true; fails early when a watched component dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for component in watch:
            component.check_alive()
        if ready():
            return
        time.sleep(interval)
    tails = "\n".join(f"--- {c.name}:\n{c.log_tail()}" for c in watch)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
