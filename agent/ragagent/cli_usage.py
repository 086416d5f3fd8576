"""``ragagent usage``: LLM tokens per identity, UTC day and model, and their cost.

The same rows as ``GET /v1/usage``, read straight from the database, for an operator at a
shell in the agent's pod (or with ``DATABASE_URL``). Cost is at ``RAGAGENT_BUDGET_PRICES``.
``--report`` is what the operator's usage CronJob runs: it sweeps long-expired token
reservations and prints the month's totals as one JSON line, also left as the pod's
termination message (``services.usage_report``).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Annotated

import typer

from ragagent.cli_database import open_database
from ragagent.core import termination
from ragagent.core.config import ConfigError, Settings, load_settings, settings_class
from ragagent.core.errors import AgentError
from ragagent.services import budget, usage_report

EXIT_FAILED = 1


def parse_day(raw: str | None, option: str) -> date | None:
    """``"2026-12-01"`` -> that date; anything else is a usage error naming ``option``."""
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise typer.BadParameter(
            f"{raw!r} is not a day like 2026-12-01", param_hint=option
        ) from None


def build_table(rows: list[budget.UsageTotal]) -> list[str]:
    """Tab-separated lines: a header, one line per row, then the totals."""
    lines = ["DAY\tIDENTITY\tMODEL\tTOKENS IN\tTOKENS OUT\tCOST"]
    for r in rows:
        lines.append(
            f"{r.day}\t{r.identity}\t{r.model}\t{r.tokens_in}\t{r.tokens_out}\t{r.cost:.4f}"
        )
    tokens_in = sum(r.tokens_in for r in rows)
    tokens_out = sum(r.tokens_out for r in rows)
    lines.append(f"TOTAL\t-\t-\t{tokens_in}\t{tokens_out}\t{sum(r.cost for r in rows):.4f}")
    return lines


def build_json(rows: list[budget.UsageTotal]) -> str:
    return json.dumps(
        [
            {
                "day": r.day.isoformat(),
                "identity": r.identity,
                "model": r.model,
                "tokens_in": r.tokens_in,
                "tokens_out": r.tokens_out,
                "cost": r.cost,
            }
            for r in rows
        ]
    )


async def _read(
    settings: Settings, identity: str | None, since: date, until: date
) -> list[budget.UsageTotal]:
    async with open_database(settings) as db:
        return await budget.list_usage(db, settings, identity=identity, since=since, until=until)


async def _report(settings: Settings) -> str:
    async with open_database(settings) as db:
        report = await usage_report.make_report(db, settings, datetime.now(UTC))
    return usage_report.build_line(report)


def usage(
    identity: Annotated[
        str | None, typer.Option("--identity", help="Only this principal id, e.g. apikey:7.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="First UTC day; default the 1st of the month.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last UTC day; default today.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Sweep expired reservations, then print the month's totals as one JSON line "
            "(also the pod's termination message); the other options are ignored.",
        ),
    ] = False,
) -> None:
    """LLM tokens in and out per identity, UTC day and model, with their cost."""
    last = parse_day(until, "'--until'") or datetime.now(UTC).date()
    first = parse_day(since, "'--since'") or last.replace(day=1)
    try:
        settings = load_settings(settings_class("usage"))
        if report:
            line = asyncio.run(_report(settings))
            typer.echo(line)
            termination.leave(line)
            return
        rows = asyncio.run(_read(settings, identity, first, last))
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except AgentError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(build_json(rows) if as_json else "\n".join(build_table(rows)))


def register(app: typer.Typer) -> None:
    """Add ``usage`` to the top-level CLI."""
    app.command("usage")(usage)
