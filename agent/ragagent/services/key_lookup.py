"""API-key lookups by prefix, with a short memory of prefixes that do not exist.

A flood of made-up keys would otherwise cost one database read each. An unknown prefix is
remembered for ``ttl`` seconds (at most ``size`` of them, oldest dropped first) and
answered as unknown without a read. Keys are created by another process (``ragagent
apikey create``), which cannot reach this memory, so the TTL is kept short: a new key
works at most ``ttl`` seconds after its prefix was last tried, and new prefixes are random,
so in practice at once. Known keys are never cached: a revocation takes effect at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from ragagent.core.metrics import AUTH_LOOKUPS
from ragagent.core.retry import retry_read
from ragagent.db import apikeys

if TYPE_CHECKING:
    from ragagent.core.db import Database


class UnknownPrefixes:
    """A bounded set of prefixes with an expiry each; ``ttl`` 0 remembers nothing."""

    def __init__(self, *, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, prefix: object) -> bool:
        expiry = self._expiry.get(str(prefix))
        if expiry is None:
            return False
        if expiry <= time.monotonic():
            del self._expiry[str(prefix)]
            return False
        return True

    def add(self, prefix: str) -> None:
        if self.ttl <= 0:
            return
        self._expiry[prefix] = time.monotonic() + self.ttl
        self._expiry.move_to_end(prefix)
        while len(self._expiry) > self.size:
            self._expiry.popitem(last=False)


async def find_key(
    db: Database, prefix: str, unknown: UnknownPrefixes
) -> apikeys.ApiKeyRecord | None:
    """The key with this prefix, revoked or not; None when unknown (remembered a while)."""
    if prefix in unknown:
        AUTH_LOOKUPS.labels(source="negative_cache").inc()
        return None
    AUTH_LOOKUPS.labels(source="database").inc()
    record = await retry_read(lambda: apikeys.find_by_prefix(db, prefix))
    if record is None:
        unknown.add(prefix)
    return record
