"""``python -m bench`` (``make bench``): run every benchmark module found in bench/.

Each runs as its own process (``python -m bench.<name>``) so one's memory,
threads and embedded database do not skew the next. Known ones run first in a
fixed order; ``eval`` needs a dataset and runs with ``make eval`` instead.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

ORDER = ("encode", "ingest", "retrieval", "chat")
SKIPPED = {"eval"}


def build_bench_names(folder: Path) -> list[str]:
    """Benchmark modules in ``folder``: known ones in ORDER, then the rest by name."""
    found = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")} - SKIPPED
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def run(name: str) -> bool:
    started = time.perf_counter()
    print(f"== bench.{name}", flush=True)
    done = subprocess.run([sys.executable, "-m", f"bench.{name}"], check=False)
    print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    return done.returncode == 0


def main() -> None:
    names = build_bench_names(Path(__file__).parent)
    parser = argparse.ArgumentParser(description="Run the benchmarks.")
    parser.add_argument("--only", nargs="*", choices=names, help="Run only these.")
    args = parser.parse_args()
    failed = [name for name in (args.only or names) if not run(name)]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
