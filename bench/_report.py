"""How a benchmark hands back its numbers: one log line each, then one line of JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any


def report(bench: str, numbers: Mapping[str, Any], *, width: int) -> None:
    """Logs each number on the ``bench.<bench>`` logger with its key padded to ``width``,
    then prints ``{"bench": bench, **numbers}`` as JSON for ``python -m bench`` to collect."""
    log = logging.getLogger(f"bench.{bench}")
    for key, value in numbers.items():
        log.info("%-*s %s", width, key, value)
    print(json.dumps({"bench": bench, **numbers}))
