"""How a benchmark hands back its numbers: one log line each, then one line of JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

# An async benchmark's run: a count (calls, turns) -> its numbers.
Run = Callable[[int], Coroutine[Any, Any, Mapping[str, Any]]]


def report(bench: str, numbers: Mapping[str, Any], *, width: int) -> None:
    """Logs each number on the ``bench.<bench>`` logger with its key padded to ``width``,
    then prints ``{"bench": bench, **numbers}`` as JSON for ``python -m bench`` to collect."""
    log = logging.getLogger(f"bench.{bench}")
    for key, value in numbers.items():
        log.info("%-*s %s", width, key, value)
    print(json.dumps({"bench": bench, **numbers}))


def main_with_count(bench: str, doc: str, run: Run, *, flag: str, default: int, about: str) -> None:
    """The command line of an async benchmark with one count option (``flag``): the first
    line of ``doc`` as its description, INFO logs, then ``run(count)`` reported."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument(flag, dest="count", metavar="N", type=int, default=default, help=about)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report(bench, asyncio.run(run(args.count)), width=28)
