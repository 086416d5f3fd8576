"""SIGTERM ends our processes the way an exception would: ``finally`` blocks and context
managers run, then the process exits with 143 (128 + SIGTERM), the shell's code for it.

Why a handler at all: in a container the command is PID 1, and the kernel gives PID 1 no
default action for SIGTERM. Without a handler the kubelet's (or podman's) stop is ignored
until the termination grace period ends in SIGKILL: the managed database's TLS front held
its pod in Terminating for 30 s on every restart, which the StatefulSet waits out before it
starts the new pod; a superseded Job's pod lingered the same. ``ragagent serve`` has its own
handling (uvicorn's, for the drain), and gives SIGTERM back its default action first
(``default_sigterm``): uvicorn raises the signal again once drained, under the handler it
found.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import NoReturn

EXIT_CODE = 128 + signal.SIGTERM


def _exit(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(128 + signum)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit(143)`` in the main thread (call it from there)."""
    signal.signal(signal.SIGTERM, _exit)


def default_sigterm() -> None:
    """SIGTERM's default action again (the process ends by it; as PID 1 it is ignored)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
