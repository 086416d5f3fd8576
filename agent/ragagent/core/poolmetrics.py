"""Refreshes the DB pool gauge at scrape time instead of on every request.

A collector registered once in ``metrics.REGISTRY`` reads ``pool_stats()`` of
the databases ``main.lifespan`` watches (one per running app; the last wins)
whenever Prometheus scrapes.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ragagent.core.metrics import DB_POOL, REGISTRY

if TYPE_CHECKING:
    from ragagent.core.db import Database

log = logging.getLogger(__name__)

POOL_STATES = ("size", "in_use", "waiting")


class PoolCollector(Collector):
    """Yields nothing itself; it updates ``ragagent_db_pool_connections`` in place."""

    def __init__(self) -> None:
        self._databases: weakref.WeakSet[Database] = weakref.WeakSet()

    def add(self, db: Database) -> None:
        self._databases.add(db)

    def discard(self, db: Database) -> None:
        self._databases.discard(db)

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        for db in list(self._databases):
            self._update(db.pool_stats())
        return []

    @staticmethod
    def _update(stats: dict[str, Any]) -> None:
        for name in POOL_STATES:
            value = stats.get(name)
            if isinstance(value, int | float):
                DB_POOL.labels(state=name).set(value)


_COLLECTOR = PoolCollector()
# The registry collects in registration order: put the gauge after its updater
# so a scrape shows the pool as it is now, not as of the previous scrape.
REGISTRY.unregister(DB_POOL)
REGISTRY.register(_COLLECTOR)
REGISTRY.register(DB_POOL)


def watch(db: Database) -> None:
    """Report this database's pool on scrapes until ``unwatch`` (weakly held)."""
    _COLLECTOR.add(db)


def unwatch(db: Database) -> None:
    """Stop reporting this database's pool (call before closing it)."""
    _COLLECTOR.discard(db)
