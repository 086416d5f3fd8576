"""How a test tells from its log whether a kopf replica under mandatory peering is active.

kopf starts such a replica paused. It logs ``RESUMED`` when a peering event shows it the
highest live peer, and ``PAUSED`` when a higher peer appears after that. A replica whose
first peering event already lists a higher peer stays paused without a word, so "has
logged PAUSED" is no test for a standby: only the last transition tells."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

PAUSED = "Pausing operations in favour of"
RESUMED = "Resuming operations after the pause"


def is_active(log: str) -> bool:
    """Whether the replica's last peering transition in ``log`` was a resume."""
    lines = [line for line in log.splitlines() if PAUSED in line or RESUMED in line]
    return bool(lines) and RESUMED in lines[-1]


def live_priorities(peering: Mapping[str, Any] | None, now: datetime) -> dict[str, int]:
    """Identity -> priority of the records in a kopf peering object that have not expired."""
    records: Mapping[str, Any] = (peering or {}).get("status") or {}
    return {
        identity: int(record["priority"])
        for identity, record in records.items()
        if datetime.fromisoformat(record["lastseen"]) + timedelta(seconds=record["lifetime"]) > now
    }
