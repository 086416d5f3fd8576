"""Refreshes the DB pool gauge at scrape time instead of on every request.

A collector registered once in ``metrics.REGISTRY`` reads ``pool_stats()`` of
the most recently started app's database whenever Prometheus scrapes.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ragagent.core.metrics import DB_POOL, REGISTRY

log = logging.getLogger(__name__)

POOL_STATES = ("size", "in_use", "waiting")


class PoolCollector(Collector):
    """Yields nothing itself; it updates ``ragagent_db_pool_connections`` in place."""

    def __init__(self) -> None:
        self._apps: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, app: Any) -> None:
        self._apps.add(app)

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        for app in list(self._apps):
            state = getattr(app.state, "ragagent", None)
            if state is not None:
                self._update(state.db.pool_stats())
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


def watch(app: Any) -> None:
    """Report this app's pool on scrapes (weakly held; gone apps are forgotten)."""
    _COLLECTOR.add(app)
