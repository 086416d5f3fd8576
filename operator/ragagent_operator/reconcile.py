"""Reconcile one RagAgent: run ``steps.STEPS`` (the ordered list of named, idempotent
steps), then the status step.

Steps run concurrently except where one reads what another produces (``steps.NEEDS``,
``steps.BARRIERS``), so a RagAgent's independent children are sent together rather
than one after another. A failing step is recorded (metrics, Reconciled=False, a
Warning Event) and the remaining steps still run, so one broken part never blocks the
others; the caller retries later.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ragagent_operator import conditions, config, context, k8s, manifest, metrics, sealing, steps
from ragagent_operator import constants as c
from ragagent_operator.render import common

log = logging.getLogger(__name__)
_locks: dict[str, asyncio.Lock] = {}
# Conditions a status-only refresh cannot compute, so it keeps them as they are.
CARRIED = (
    conditions.Type.RECONCILED,
    conditions.Type.SECRETS_READY,
    conditions.Type.MONITORING_READY,
    conditions.Type.RESTORED,
    conditions.Type.REINDEXED,
)
# Full reconciles at once. More would not finish sooner (their requests queue on
# k8s.MAX_IN_FLIGHT) but would hold more bodies, manifests and tasks in memory at a peak.
MAX_RECONCILES = 32
_SLOTS = asyncio.Semaphore(MAX_RECONCILES)
STEP_ERRORS = (k8s.KubeError, sealing.SealingError, OSError)


def build_context(
    api: k8s.Api, settings: config.OperatorSettings, body: manifest.Manifest
) -> context.Context:
    """One reconcile's Context for RagAgent ``body``, its spec parsed with the defaults."""
    agent = common.build_agent(
        body,
        default_image=settings.default_image,
        monitoring_namespace=settings.monitoring_namespace,
        secrets_provider=settings.secrets_provider,
        cluster_domain=settings.cluster_domain,
    )
    return context.Context(api=api, settings=settings, agent=agent, body=body)


async def reconcile(
    api: k8s.Api, settings: config.OperatorSettings, body: manifest.Manifest, *, trigger: str
) -> list[str]:
    """Run every step and then the status step; returns the names of failed steps.

    ``trigger`` "create" marks the RagAgent fresh: its children are applied without
    reading them first (a retry after a failure runs as "retry"/"timer" and reads).
    """
    lock = _lock_for(body["metadata"]["namespace"], body["metadata"]["name"])
    async with lock, _SLOTS:
        try:
            current = await _current(api, body)
        except k8s.KubeError as exc:
            meta = body["metadata"]
            log.warning("reading RagAgent %s/%s failed: %s", meta["namespace"], meta["name"], exc)
            return ["read"]
        if current is None or current["metadata"].get("deletionTimestamp"):
            # Gone, or its name now belongs to a new RagAgent (whose own events reconcile it),
            # or being deleted (a finalizer or a foreground deletion holds it: the garbage
            # collector removes its children, and re-creating one would fight it).
            return []
        body = current
        started = time.perf_counter()
        ctx = build_context(api, settings, body)
        ctx.fresh = trigger == "create" and not (body.get("status") or {}).get("conditions")
        failed = await _run_steps(ctx)
        if ctx.conflicts:
            message = "refusing to write objects this RagAgent does not own (rename or remove "
            message += "them, or rename the RagAgent): " + ", ".join(sorted(ctx.conflicts))
            ctx.note(conditions.Type.RECONCILED, False, conditions.Reason.CHILD_CONFLICT, message)
        if not await _run_step(ctx, "status", lambda each: steps.STATUS(each, failed)):
            failed.append("status")
        metrics.RECONCILE_DURATION.observe(time.perf_counter() - started)
        metrics.RECONCILES.labels(trigger=trigger, result="error" if failed else "ok").inc()
        metrics.WATCHED.set(len(_locks))
        return failed


async def _current(api: k8s.Api, body: manifest.Manifest) -> manifest.Manifest | None:
    """The RagAgent of ``body`` as it is now, read under its lock; None when it is gone or its
    name belongs to another RagAgent (another uid) since.

    An event's body can be stale by the time its reconcile holds the lock: in a control-plane
    soak, the event of a RagAgent deleted and created again while another reconcile held the
    lock was reconciled after its successor's. It found the successor's children, refused
    them as namesakes, and wrote its own status (Reconciled=False, its old
    observedGeneration) onto the successor, which then waited a minute for its resync."""
    meta = body["metadata"]
    live = await k8s.get(api, c.API_VERSION, c.KIND, meta["namespace"], meta["name"])
    if live is None or live["metadata"].get("uid") != meta.get("uid"):
        return None
    return live


def trigger_for(body: manifest.Manifest, handled: int | None) -> str | None:
    """Why an event of a RagAgent needs a reconcile, or None when it needs none.

    ``handled`` is the generation this process last reconciled (None: none yet).
    "create": first sight of generation 1 without a status (its reconcile reads no child:
    none can exist). "update": a generation the status has not observed (the spec changed),
    or one without a status after an earlier reconcile that wrote none, which may have
    made children: a "create" would not read them, and so would leave the ones the new
    spec drops (a superseded ingest Job, an HPA turned off) until the resync. "resume":
    first sight in this process of a RagAgent whose last reconcile did not succeed.
    Events that only bring a status write of a handled generation need nothing; drift is
    the periodic resync's job.
    """
    generation = int(body["metadata"].get("generation") or 0)
    if handled == generation:
        return None
    status = body.get("status") or {}
    listed = status.get("conditions") or []
    if not listed:
        return "create" if handled is None and generation <= 1 else "update"
    if status.get("observedGeneration") != generation:
        return "update"
    reconciled = [
        item.get("status") for item in listed if item.get("type") == conditions.Type.RECONCILED
    ]
    if handled is None and reconciled != ["True"]:
        return "resume"
    return None


def build_waits(names: list[str]) -> dict[str, set[str]]:
    """For each step, the steps it waits for (NEEDS and BARRIERS; unknown names ignored)."""
    waits = {name: set(steps.NEEDS.get(name, ())) & set(names) for name in names}
    for index, name in enumerate(names):
        if name in steps.BARRIERS:
            waits[name] |= set(names[:index])
            for later in names[index + 1 :]:
                waits[later].add(name)
    return waits


WAITS = build_waits([name for name, _ in steps.STEPS])  # STEPS never changes: worked out once


async def _run_steps(ctx: context.Context) -> list[str]:
    """Every step, each as soon as the steps it waits for finished; returns the failed ones."""
    finished = {name: asyncio.Event() for name, _ in steps.STEPS}
    ok: dict[str, bool] = {}

    async def run(name: str, step: steps.Step) -> None:
        try:
            for other in WAITS[name]:
                await finished[other].wait()
            ok[name] = await _run_step(ctx, name, step)
        finally:
            finished[name].set()

    async with asyncio.TaskGroup() as group:
        for name, step in steps.STEPS:
            group.create_task(run(name, step))
    return [name for name, _ in steps.STEPS if not ok[name]]


def _lock_for(namespace: str, name: str) -> asyncio.Lock:
    return _locks.setdefault(f"{namespace}/{name}", asyncio.Lock())


async def refresh_status(
    api: k8s.Api, settings: config.OperatorSettings, namespace: str, name: str
) -> None:
    """A child's status changed: recompute the status only, without touching any child.

    Conditions that only the full steps can compute (Reconciled, SecretsReady,
    MonitoringReady, DatabaseReady of an external database) are carried over.
    """
    async with _lock_for(namespace, name):
        # Read under the lock: a body read before it could predate the status a full
        # reconcile just wrote, and patching from it would flip conditions back.
        body = await k8s.get(api, c.API_VERSION, c.KIND, namespace, name)
        if body is None:
            return
        ctx = build_context(api, settings, body)
        carried = set(CARRIED)
        if not ctx.agent.managed_db:
            carried.add(conditions.Type.DATABASE_READY)
        for cond in (body.get("status") or {}).get("conditions") or []:
            if cond.get("type") in carried:
                ctx.conditions[cond["type"]] = conditions.without_times(cond)
        await _run_step(ctx, "status", lambda each: steps.STATUS(each, None))
        metrics.RECONCILES.labels(trigger="child", result="status").inc()


async def _run_step(ctx: context.Context, name: str, step: steps.Step) -> bool:
    with metrics.STEP_DURATION.labels(step=name).time():
        try:
            await step(ctx)
        except STEP_ERRORS as exc:
            metrics.STEP_ERRORS.labels(step=name).inc()
            if isinstance(exc, k8s.ChildConflict):
                ctx.conflicts.append(exc.object)
            ctx.errors[name] = str(exc)
            log.warning(
                "step %s failed for %s/%s: %s", name, ctx.agent.namespace, ctx.agent.name, exc
            )
            return False
    return True


# What a child's event that runs the full reconcile says happened, by the reconcile's trigger.
CHILD_TRIGGERS = {
    "job": "a step Job finished",
    "deleted": "a Deployment or StatefulSet was deleted",
}


async def reconcile_by_name(
    api: k8s.Api, settings: config.OperatorSettings, namespace: str, name: str, trigger: str
) -> None:
    """Run the full reconcile of RagAgent ``namespace/name`` now (``trigger``: a key of
    CHILD_TRIGGERS); nothing when it is gone."""
    body = await k8s.get(api, c.API_VERSION, c.KIND, namespace, name)
    if body is None:
        return
    log.info("%s: reconciling %s/%s now", CHILD_TRIGGERS[trigger], namespace, name)
    await reconcile(api, settings, body, trigger=trigger)


async def reconcile_again(
    api: k8s.Api, settings: config.OperatorSettings, namespace: str, name: str, uid: str
) -> list[str]:
    """Retry the reconcile of RagAgent ``uid`` on the RagAgent as it is now; returns the failed
    steps. None failed when it is gone, or when its name now belongs to another RagAgent
    (that one's own events reconcile it)."""
    known = {"metadata": {"namespace": namespace, "name": name, "uid": uid}}
    return await reconcile(api, settings, known, trigger="retry")  # it reads the RagAgent


def forget(namespace: str, name: str) -> None:
    """Drop per-object state (lock, per-RagAgent metric series) once a RagAgent is deleted."""
    _locks.pop(f"{namespace}/{name}", None)
    metrics.forget_agent(namespace, name)
