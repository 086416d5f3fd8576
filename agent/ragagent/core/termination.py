"""The termination message: how a one-shot command in a Job hands its result to the operator.

The kubelet copies the file ``/dev/termination-log`` (or the pod's
``terminationMessagePath``) into the pod status when the container ends; the operator reads
it there, with no log access, and it survives log rotation. The kubelet keeps at most 4096
bytes of it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

TERMINATION_LOG = Path("/dev/termination-log")
TERMINATION_LOG_ENV = "RAGAGENT_TERMINATION_MESSAGE_PATH"
TERMINATION_MESSAGE_LIMIT = 4096
log = logging.getLogger(__name__)


def log_path() -> Path | None:
    """``RAGAGENT_TERMINATION_MESSAGE_PATH``, else ``/dev/termination-log`` when it exists;
    None outside a container (where it does not)."""
    configured = os.environ.get(TERMINATION_LOG_ENV)
    if configured:
        return Path(configured)
    return TERMINATION_LOG if TERMINATION_LOG.exists() else None


def leave(line: str) -> None:
    """Write ``line`` as the termination message, when there is a place for it; a failure
    to write is logged, never raised: the command's own result stands."""
    target = log_path()
    if target is None:
        return
    try:
        target.write_text(line + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("termination message not written to %s: %s", target, exc)
