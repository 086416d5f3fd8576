"""Python code run in a fresh interpreter, for what a test process cannot show about itself.

Importing the agent has effects that last for the life of a process: the modules it loads,
the tracer provider it installs (once), the thread count numpy's OpenBLAS fixes at load.
The test process did all of that long ago, so such a check starts a new interpreter (this
one's executable, so the same environment and packages) and reads what it prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping


def run(
    code: str,
    *,
    env: Mapping[str, str] | None = None,
    drop: Callable[[str], bool] | None = None,
    timeout: float = 120,
) -> str:
    """What ``code`` prints, stripped; raises CalledProcessError if it fails.

    The child gets this process's environment without the variables ``drop`` picks (so that
    the caller's shell cannot decide the outcome), plus ``env``.
    """
    inherited = {k: v for k, v in os.environ.items() if drop is None or not drop(k)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**inherited, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return done.stdout.strip()
