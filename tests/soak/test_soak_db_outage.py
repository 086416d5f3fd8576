"""``make soak``'s database-outage scenario at its short size (a 5 s outage,
bench.soak_db_outage): PostgreSQL stops under load and comes back on the same socket.

Every failure is a 503 (with Retry-After over HTTP), nothing the clients were told was
stored is missing, and requests begun 5 s after the return all succeed: a property of the
pool's reconnect (core.db.RECONNECT_TIMEOUT_SECONDS), not of the machine's speed.
"""

from __future__ import annotations

import pytest

from bench import soak_db_outage

pytestmark = pytest.mark.slow


def test_a_database_outage_costs_503s_only_and_loses_no_acknowledged_write() -> None:
    outcome = soak_db_outage.run(short=True)
    assert outcome.held, (outcome.checks, outcome.numbers)
