"""kopf registrations and process startup: nothing else lives here.

Handlers are thin: they build nothing and decide nothing, they call
``reconcile.reconcile``.  HA uses kopf cluster peering: each replica picks a
random priority at start (unless one is configured), so exactly one replica
(the highest) is active and the others pause until its peering record expires.
The periodic resync is ``resync.Resync``, not a kopf timer, so RagAgents carry
no finalizer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import sys
from typing import Any

# kopf imports the kubernetes client library whenever it is installed, only to recognise
# its model objects, which this operator never hands to kopf. Its hundreds of modules
# cost about 20 MiB of resident memory, so the operator process keeps it out: kopf
# expects the ImportError this gives. Only the operator process imports this module.
sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]

import kopf  # noqa: E402
from prometheus_client import start_http_server  # noqa: E402

from ragagent_operator import config, job_events, jobs, k8s, logs, reconcile, resync  # noqa: E402
from ragagent_operator import constants as c  # noqa: E402

log = logging.getLogger(__name__)
SETTINGS = config.OperatorSettings()
OWNED = {c.LABEL_MANAGED_BY: c.MANAGED_BY}
CHILD_DEBOUNCE_SECONDS = 1.0
_state: dict[str, k8s.Api] = {}
_pending: set[str] = set()
_handled: dict[str, int] = {}  # RagAgent uid -> the generation this process reconciled
# kopf retries a failed API request (each watch's too) after these pauses. Its default
# (1, 1, 2, 3, 5, 8, 13, 21 s) leaves a watch asleep for up to 21 s after the API server or
# etcd is back from an outage, and RagAgent changes wait as long (the soak suite's restarts
# must be followed within 10 s). At most 2 s here, for about 10 minutes: kopf gives up a
# request once its pauses run out (54 s by default), and a peering keep-alive given up is
# never sent again, so this replica's record would lapse while it goes on working.
API_RETRY_BACKOFFS = (0.5, 1.0, *(2.0,) * 300)


def _api() -> k8s.Api:
    if "api" not in _state:
        _state["api"] = k8s.connect()
    return _state["api"]


PEERING = resync.Peering(
    name=SETTINGS.peering,
    identity=resync.own_identity(),
    priority=SETTINGS.priority or random.randint(1, 2**30),  # noqa: S311
)


async def _resync(body: dict[str, Any]) -> None:
    await _reconcile(body, "timer")


RESYNC = resync.Resync(SETTINGS.resync_seconds, run=_resync, peering=PEERING, api=_api)


async def _is_active() -> bool:
    return await PEERING.is_active(_api())


RETRIES = resync.Retries(is_active=_is_active)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.enabled = False  # our own Events say more than "handler succeeded"
    settings.networking.error_backoffs = API_RETRY_BACKOFFS
    settings.peering.clusterwide = True
    settings.peering.stealth = True
    # Namespaced mode has no cluster-wide read of CRDs or namespaces (least privilege), and
    # kopf would retry those 403s for about a minute before serving: scan nothing instead.
    # The watched namespaces are exact names and the CRD is installed before the operator.
    settings.scanning.disabled = bool(SETTINGS.namespaces)
    if SETTINGS.peering:
        settings.peering.name = SETTINGS.peering
        settings.peering.mandatory = True
        settings.peering.lifetime = SETTINGS.peering_lifetime_seconds
        settings.peering.priority = PEERING.priority
    else:
        settings.peering.standalone = True
    if SETTINGS.metrics_port:
        start_http_server(SETTINGS.metrics_port)


@kopf.on.cleanup()
async def close(**_: Any) -> None:
    RESYNC.close()
    RETRIES.close()
    if "api" in _state:
        await k8s.close(_state.pop("api"))


async def _reconcile(body: dict[str, Any], trigger: str) -> None:
    """Reconcile; a failure is retried within seconds (``resync.Retries``), not at the next
    resync, since after a control-plane restart the first reconcile is often refused."""
    failed = await reconcile.reconcile(_api(), SETTINGS, body, trigger=trigger)
    if failed:
        meta = body["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        again = functools.partial(reconcile.reconcile_again, _api(), SETTINGS, namespace, name, uid)
        RETRIES.schedule(uid, f"{namespace}/{name}", again, failed)


@kopf.on.event(c.GROUP, c.VERSION, c.PLURAL)
async def on_event(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
    """Reconcile created and changed RagAgents (``reconcile.trigger_for`` says which),
    and keep one periodic resync per RagAgent (``resync.Resync``) until it is deleted.

    A low-level event handler, unlike on.create/update/resume, makes kopf write nothing
    to the RagAgent: no diff-base annotation, no progress. status.observedGeneration
    and this process's memory of handled generations say what is done.
    """
    uid = str(body.metadata.uid)
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    if event["type"] == "DELETED":
        _handled.pop(uid, None)
        RESYNC.forget(uid)
        RETRIES.forget(uid)
        reconcile.forget(namespace, name)
        return
    RESYNC.track(namespace, name, uid)
    trigger = reconcile.trigger_for(dict(body), _handled.get(uid))
    if trigger is not None:
        _handled[uid] = int(body.metadata.get("generation") or 0)
        await _reconcile(dict(body), trigger)


@kopf.on.event("apps", "v1", "deployments", labels=OWNED)
@kopf.on.event("apps", "v1", "statefulsets", labels=OWNED)
@kopf.on.event("batch", "v1", "jobs", labels=OWNED)
async def on_child(event: kopf.RawEvent, body: kopf.Body, **_: Any) -> None:
    """A child changed: refresh its owner's status, coalescing bursts of events.

    A finished re-index, restore or pre-reindex backup Job, or a deleted Deployment or
    StatefulSet, runs the full reconcile instead, so the next step starts (or the workload
    is back) now rather than at the next resync. A child without a status yet (just
    created, by the reconcile that is writing its owner's status) is skipped."""
    owner = _owner_name(body.metadata.get("ownerReferences") or [], dict(body.metadata.labels))
    namespace = body.metadata.namespace or ""
    if owner and job_events.is_workload_deleted(event.get("type"), body):
        await _refresh_owner(namespace, owner, full="deleted")
    elif owner and body.get("status"):
        full = "job" if job_events.is_step_job_finished(body) else None
        await _refresh_owner(namespace, owner, full=full)


def _owner_name(owners: list[Any], labels: dict[str, str]) -> str | None:
    """The RagAgent a child belongs to. The CronJob controller owns the Jobs it starts,
    so a scheduled backup Job names its RagAgent only through the instance label."""
    for owner in owners:
        if owner.get("kind") == c.KIND and owner.get("controller"):
            return str(owner["name"])
    kind = jobs.kind_of(labels.get(c.LABEL_COMPONENT))
    if kind is not None and kind.scheduled:
        return labels.get(c.LABEL_INSTANCE)
    return None


async def _refresh_owner(namespace: str, name: str, *, full: str | None = None) -> None:
    """One refresh per owner per CHILD_DEBOUNCE_SECONDS; events in between join it. ``full``:
    the trigger of a full reconcile instead (``reconcile.CHILD_TRIGGERS``)."""
    key = f"{namespace}/{name}/{full}"
    if key in _pending:
        return
    _pending.add(key)
    await asyncio.sleep(CHILD_DEBOUNCE_SECONDS)
    _pending.discard(key)  # later events schedule a new refresh that sees their state
    if full:
        await reconcile.reconcile_by_name(_api(), SETTINGS, namespace, name, full)
    else:
        await reconcile.refresh_status(_api(), SETTINGS, namespace, name)


def run() -> None:
    """Run kopf until terminated (liveness on settings.health_port)."""
    logs.configure(SETTINGS.log_level, SETTINGS.log_format)
    liveness = f"http://0.0.0.0:{SETTINGS.health_port}/healthz" if SETTINGS.health_port else None
    asyncio.run(
        kopf.operator(
            clusterwide=not SETTINGS.namespaces,
            namespaces=SETTINGS.namespaces,
            liveness_endpoint=liveness,
            # Ours, so that the resync knows which peering record is its own.
            identity=PEERING.identity,  # type: ignore[arg-type]  # kopf's Identity is a NewType of str
        )
    )


def main() -> None:
    """Console entry point ``ragagent-operator``."""
    run()


if __name__ == "__main__":
    main()
