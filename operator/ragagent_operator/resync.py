"""The periodic resync of every RagAgent, without a finalizer on it.

kopf's own timers would put a finalizer on every RagAgent (so that a timer stops before
its object goes), and a finalizer blocks deletion whenever no operator runs: the
RagAgent, and with it its namespace, would hang in Terminating. A RagAgent needs no
cleanup outside the cluster (ownerReferences collect its children), so it carries no
finalizer. Instead each RagAgent this process has seen gets one task that reads it and
reconciles it every ``interval`` seconds, until it is deleted.

Only the active replica resyncs. ``is_leader`` is kopf's own peering rule, applied to
the same ClusterKopfPeering record, so a replica that kopf pauses also skips its resyncs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ragagent_operator import constants as c
from ragagent_operator import k8s, manifest

log = logging.getLogger(__name__)
PEERING_API = ("kopf.dev/v1", "ClusterKopfPeering")
AGENT_API = (c.API_VERSION, c.KIND)
PEERING_CHECK_SECONDS = 1.0  # every due resync of one moment shares one read
Run = Callable[[manifest.Manifest], Awaitable[None]]


def own_identity() -> str:
    """This process's name in the peering record, as kopf would choose it: POD_ID when set
    (a container restarted in its pod takes over its own record at once), else the pod's
    name, else the host; a pod-less process adds its start time and a random suffix."""
    pod = os.environ.get("POD_ID") or os.environ.get("POD_NAME")
    if pod:
        return pod
    started = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"{socket.gethostname()}/{started}/{secrets.token_hex(3)}"


def is_leader(peers: Mapping[str, Any], *, identity: str, priority: int, now: datetime) -> bool:
    """kopf's rule: a replica pauses while another live peer has a higher or equal priority."""
    for peer, record in peers.items():
        if peer == identity or not isinstance(record, Mapping):
            continue
        if _deadline(record, now) > now and int(record.get("priority", 0)) >= priority:
            return False
    return True


def _deadline(record: Mapping[str, Any], now: datetime) -> datetime:
    try:
        seen = datetime.fromisoformat(str(record["lastseen"]))
    except (KeyError, ValueError):
        # No time counts as just seen, as in kopf; an unreadable one too, which keeps this
        # replica paused rather than risk two active ones.
        seen = now
    if seen.tzinfo is None:  # kopf writes UTC with an offset; a bare time is UTC as well
        seen = seen.replace(tzinfo=UTC)
    return seen + timedelta(seconds=int(record.get("lifetime", 60)))


@dataclass
class Peering:
    """Whether this replica is the active one, read from the peering record (cached)."""

    name: str | None  # None: standalone, always active
    identity: str
    priority: int
    _checked: float = -math.inf
    _active: bool = True
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def is_active(self, api: k8s.Api) -> bool:
        if self.name is None:
            return True
        async with self._lock:
            if time.monotonic() - self._checked >= PEERING_CHECK_SECONDS:
                self._active = await self._read(api, self.name)
                self._checked = time.monotonic()
            return self._active

    async def _read(self, api: k8s.Api, name: str) -> bool:
        try:
            record = await k8s.get(api, *PEERING_API, None, name)
        except k8s.KubeError as exc:  # keep the last answer; ask again later
            log.warning("peering %s unreadable: %s", name, exc)
            return self._active
        peers = (record or {}).get("status") or {}
        now = datetime.now(UTC)
        try:
            return is_leader(peers, identity=self.identity, priority=self.priority, now=now)
        except (TypeError, ValueError) as exc:  # a malformed record: kopf decides meanwhile
            log.warning("peering %s unreadable: %s", name, exc)
            return self._active


@dataclass
class Resync:
    """One resync task per RagAgent seen. Each resync reads the RagAgent afresh: a body
    remembered from before a pause could bring back a spec that has changed since."""

    interval: float
    run: Run
    peering: Peering
    api: Callable[[], k8s.Api]
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def track(self, namespace: str, name: str, uid: str) -> None:
        """Start the resync of a RagAgent the first time it is seen."""
        if uid not in self.tasks:
            self.tasks[uid] = asyncio.create_task(self._loop(namespace, name, uid))

    def forget(self, uid: str) -> None:
        """The RagAgent is deleted: stop its resync."""
        task = self.tasks.pop(uid, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        for uid in list(self.tasks):
            self.forget(uid)

    async def _loop(self, namespace: str, name: str, uid: str) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                if not await self.peering.is_active(self.api()):
                    continue
                body = await k8s.get(self.api(), *AGENT_API, namespace, name)
                if body is None or body["metadata"].get("uid") != uid:
                    self.tasks.pop(uid, None)  # deleted (maybe re-created: that has its own)
                    return
                await self.run(body)
            except k8s.KubeError as exc:  # the next interval tries again
                log.warning("resync of %s/%s failed: %s", namespace, name, exc)
