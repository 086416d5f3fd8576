"""The reconciles no event asks for: the periodic resync of every RagAgent, without a
finalizer on it, and the retry of a reconcile that failed (``Retries``).

kopf's own timers would put a finalizer on every RagAgent (so that a timer stops before
its object goes), and a finalizer blocks deletion whenever no operator runs: the
RagAgent, and with it its namespace, would hang in Terminating. A RagAgent needs no
cleanup outside the cluster (ownerReferences collect its children), so it carries no
finalizer. Instead each RagAgent this process has seen gets one task that reads it and
reconciles it every ``interval`` seconds, until it is deleted.

Only the active replica resyncs and retries. ``is_leader`` is kopf's own peering rule, applied to
the same ClusterKopfPeering record, so a replica that kopf pauses also skips its resyncs.
"""

from __future__ import annotations

import asyncio
import itertools
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
# A failed reconcile is tried again after 0.5, 1, 2, then every 4 s: just after an API server
# or etcd restart, requests are refused for a few seconds after /readyz says ok (403s until
# its authorization cache fills, 429s while a CRD's storage starts), and the change that
# failed must still land within 10 s. A failure that lasts (a missing permission, a broken
# spec) is retried every RETRY_SLOW_SECONDS once it has lasted RETRY_FAST_FOR_SECONDS, so a
# RagAgent that cannot be reconciled costs no more requests than it did before.
RETRY_FIRST_SECONDS = 0.5
RETRY_CAP_SECONDS = 4.0
RETRY_FAST_FOR_SECONDS = 120.0
RETRY_SLOW_SECONDS = 15.0
# One try: the reasons it failed (failed step names), empty when nothing is left to retry.
Attempt = Callable[[], Awaitable[list[str]]]
Delay = Callable[[int, float], float]


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
class PerAgent:
    """At most one task per RagAgent (by uid), cancelled when it is deleted or on shutdown."""

    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict, kw_only=True)

    def forget(self, uid: str) -> None:
        """The RagAgent is deleted: stop its task."""
        task = self.tasks.pop(uid, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        for uid in list(self.tasks):
            self.forget(uid)


@dataclass
class Resync(PerAgent):
    """One resync task per RagAgent seen. Each resync reads the RagAgent afresh: a body
    remembered from before a pause could bring back a spec that has changed since."""

    interval: float
    run: Run
    peering: Peering
    api: Callable[[], k8s.Api]

    def track(self, namespace: str, name: str, uid: str) -> None:
        """Start the resync of a RagAgent the first time it is seen."""
        if uid not in self.tasks:
            self.tasks[uid] = asyncio.create_task(self._loop(namespace, name, uid))

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


def retry_delay(number: int, elapsed: float) -> float:
    """Seconds before retry ``number`` (from 1) of a reconcile that has failed for ``elapsed``
    seconds: doubling from RETRY_FIRST_SECONDS up to RETRY_CAP_SECONDS, RETRY_SLOW_SECONDS
    once the failure has lasted RETRY_FAST_FOR_SECONDS."""
    if elapsed >= RETRY_FAST_FOR_SECONDS:
        return RETRY_SLOW_SECONDS
    return min(RETRY_CAP_SECONDS, RETRY_FIRST_SECONDS * 2.0 ** min(number - 1, 16))


@dataclass
class Retries(PerAgent):
    """At most one retry loop per RagAgent (by uid) after a failed reconcile. The loop tries
    until a try succeeds or has nothing left to do (the RagAgent is gone or another one has
    its name: ``Attempt`` returns no reasons), or this replica is paused (the active one
    retries through its resync). A try that raises is a failed try, never the loop's end."""

    is_active: Callable[[], Awaitable[bool]]
    delay: Delay = retry_delay

    def schedule(self, uid: str, what: str, attempt: Attempt, reasons: list[str]) -> None:
        """Retry ``attempt`` unless a retry of ``uid`` is already under way: that one reads
        the RagAgent afresh on each try, so it covers the newer failure too."""
        if uid not in self.tasks:
            self.tasks[uid] = asyncio.create_task(self._loop(uid, what, attempt, reasons))

    async def _loop(self, uid: str, what: str, attempt: Attempt, reasons: list[str]) -> None:
        started = time.monotonic()
        try:
            for number in itertools.count(1):
                pause = self.delay(number, time.monotonic() - started)
                log.info("reconcile of %s failed (%s): retry %d in %.1f s",
                         what, ", ".join(reasons), number, pause)  # fmt: skip
                await asyncio.sleep(pause)
                reasons = await self._try(attempt)
                if not reasons:
                    log.info("retry %d of %s: done", number, what)
                    return
        finally:
            if self.tasks.get(uid) is asyncio.current_task():
                del self.tasks[uid]

    async def _try(self, attempt: Attempt) -> list[str]:
        """The reasons one try failed; empty when the loop is done."""
        try:
            if not await self.is_active():
                return []  # paused meanwhile: the active replica's resync takes over
            return await attempt()
        except k8s.KubeError as exc:  # the API server's own words: no Secret value in them
            return [str(exc)]
        # Any other failure is retried as well. Its text could quote a spec or a value, so
        # only its type is logged.
        except Exception as exc:  # noqa: BLE001
            return [type(exc).__name__]
