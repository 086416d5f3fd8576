"""What every soak scenario returns (``python -m bench.soak``), and small helpers they share.

A scenario module exposes ``run(short: bool) -> Outcome``. Its numbers are reported as
measured; its checks are the scenario's "must hold" properties, and one that fails makes the
runner exit non-zero. Timings of the machine belong in the numbers, not in the checks, unless
the check is the property itself (the issue's "resumes within 5 s").
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass, field
from pathlib import Path

Number = int | float | str


@dataclass(frozen=True)
class Check:
    """One "must hold" property and whether this run kept it; ``detail`` says what was seen."""

    name: str
    held: bool
    detail: str = ""


@dataclass
class Outcome:
    """A scenario's measured numbers (name -> value, in the order measured) and its checks."""

    scenario: str
    numbers: dict[str, Number] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return all(check.held for check in self.checks)

    def check(self, name: str, held: bool, detail: str = "") -> None:
        self.checks.append(Check(name, held, detail))


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.5 is the median); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def read_rss_mib(pid: int) -> float:
    """Resident set size of process ``pid`` in MiB, from /proc/<pid>/status (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file soft limit towards ``wanted`` (up to the hard limit),
    so thousands of sockets fit; children started afterwards inherit it. Returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft
