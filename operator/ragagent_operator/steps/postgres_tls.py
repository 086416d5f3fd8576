"""Reconcile step: the managed database's CA and server certificate (render.postgres_tls).

Reads the owned ``<name>-postgres-tls`` Secret back, keeps what is still good and renews the
rest, so a resync writes nothing until a certificate nears its expiry. An external database
brings its own TLS; nothing is written for it.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from ragagent_operator import context
from ragagent_operator.render import postgres_tls


async def ensure_postgres_tls(ctx: context.Context) -> None:
    agent = ctx.agent
    if not agent.managed_db:
        return
    live = await ctx.get("v1", "Secret", postgres_tls.tls_secret_name(agent))
    current = read_secret_data(live)
    values = postgres_tls.build_tls_values(agent, current, now=datetime.now(UTC))
    await ctx.ensure(postgres_tls.build_tls_secret(agent, values))


def read_secret_data(live: dict[str, object] | None) -> dict[str, bytes]:
    """The Secret's values, decoded; what cannot be decoded is left out (and so renewed)."""
    data = (live or {}).get("data") or {}
    found: dict[str, bytes] = {}
    for key, value in data.items() if isinstance(data, dict) else ():
        try:
            found[str(key)] = base64.b64decode(str(value), validate=True)
        except ValueError:
            continue
    return found
