"""``ragagent apikey create | revoke | list``: manage API keys.

The clear key is printed once, by ``create``, and never stored: the table
holds only its HMAC-SHA256 (keyed by RAGAGENT_SECRET_KEY, or in development
by a random secret kept in the data directory). Losing a key means creating
a new one and revoking the old. ``--expires-in`` gives a key an end date, after
which it is refused with 401 like a revoked one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, TypeVar

import typer

from ragagent.cli_database import load_command_settings, open_database
from ragagent.core import security
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.core.errors import AgentError
from ragagent.db import apikeys

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

T = TypeVar("T")
EXIT_FAILED = 1
_DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_EXPIRY = timedelta(days=3660)


def parse_scopes(raw: str) -> list[str]:
    """``"chat,ingest"`` → sorted scope names; unknown names are a usage error."""
    scopes = sorted({part.strip() for part in raw.split(",") if part.strip()})
    unknown = [scope for scope in scopes if scope not in security.SCOPES]
    if unknown or not scopes:
        allowed = ", ".join(sorted(security.SCOPES))
        raise typer.BadParameter(f"scopes must be a comma list of: {allowed}")
    return scopes


def parse_duration(raw: str) -> timedelta:
    """``"30d"`` → 30 days: a whole number and one unit of m, h, d or w, at most 10 years."""
    match = _DURATION.match(raw.strip())
    if match is None:
        raise typer.BadParameter(
            f"{raw!r} is not a duration: write a whole number and a unit, "
            "m (minutes), h (hours), d (days) or w (weeks), e.g. 90d",
            param_hint="'--expires-in'",
        )
    duration = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if duration > MAX_EXPIRY:
        raise typer.BadParameter(
            f"{raw!r} is longer than {MAX_EXPIRY.days} days", param_hint="'--expires-in'"
        )
    return duration


def _with_db(settings: Settings, action: Callable[[Database], Awaitable[T]]) -> T:
    """Open the database (migrated to head), run ``action``, close it."""

    async def run() -> T:
        async with open_database(settings) as db:
            return await action(db)

    try:
        return asyncio.run(run())
    except AgentError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(EXIT_FAILED) from None


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    scopes: Annotated[str, typer.Option("--scopes", help="Comma list: chat, ingest, admin.")] = (
        "chat"
    ),
    user: Annotated[
        str | None,
        typer.Option(
            "--user", help="Owner shared by several keys: 'apikey-user:<user>'; default the key."
        ),
    ] = None,
    expires_in: Annotated[
        str | None,
        typer.Option("--expires-in", help="Lifetime such as 30d, 12h or 4w; default never."),
    ] = None,
) -> None:
    """Create a key and print it once; store it now, it cannot be shown again."""
    settings = load_command_settings("apikey")
    scope_list = parse_scopes(scopes)
    lifetime = None if expires_in is None else parse_duration(expires_in)
    prefix, key = security.generate_api_key()
    key_hash = security.build_key_hash(security.api_key_pepper(settings), key)

    async def action(db: Database) -> apikeys.ApiKeyRecord:
        return await apikeys.insert_key(
            db,
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            user_id=user,
            scopes=scope_list,
            expires_in=lifetime,
        )

    record = _with_db(settings, action)
    typer.echo(f"id:     {record.id}\nname:   {record.name}\nscopes: {','.join(scope_list)}")
    typer.echo(f"owner:  {security.api_key_principal_id(record.id, record.user_id)}")
    typer.echo(f"expires: {_when(record.expires_at, never='never')}")
    typer.echo(f"key:    {key}")
    typer.echo("Store the key now: it is not kept and cannot be shown again.", err=True)


@app.command()
def revoke(key_id: Annotated[int, typer.Argument(metavar="ID", help="Key id.")]) -> None:
    """Revoke a key; requests using it get 401 from now on."""
    settings = load_command_settings("apikey")
    if not _with_db(settings, lambda db: apikeys.revoke(db, key_id)):
        typer.echo(f"error: no active key with id {key_id}", err=True)
        raise typer.Exit(EXIT_FAILED)
    typer.echo(f"revoked key {key_id}")


@app.command("list")
def list_keys() -> None:
    """List keys (never their values): id, name, prefix, scopes, user, dates, state."""
    records = _with_db(load_command_settings("apikey"), apikeys.list_keys)
    typer.echo("ID\tNAME\tPREFIX\tSCOPES\tUSER\tCREATED\tLAST USED\tEXPIRES\tSTATE")
    for r in records:
        state = "revoked" if r.revoked_at else "expired" if r.is_expired() else "active"
        typer.echo(
            f"{r.id}\t{r.name}\trag_{r.prefix}_…\t{','.join(sorted(r.scopes))}\t"
            f"{r.user_id or '-'}\t{_when(r.created_at)}\t{_when(r.last_used_at)}\t"
            f"{_when(r.expires_at, never='never')}\t{state}"
        )


def _when(moment: datetime | None, *, never: str = "-") -> str:
    return moment.isoformat(timespec="seconds") if moment else never
