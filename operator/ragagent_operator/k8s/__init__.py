"""The one package that talks to the API server (async httpx, credentials found by kopf).

Writes are server-side apply with the single field manager ``ragagent-operator``
and ``force=true``.  ``ensure`` first reads the live object and skips the write
when it already matches (same spec-hash annotation and every desired field
present with the same value), so a resync of an unchanged RagAgent sends no
write request at all.  ``_call`` is the one place that maps HTTP errors: 404
becomes ``None``, a 409 is retried once, anything else raises ``ApiError``; a request
that gets no answer raises ``Unreachable``. httpx and its errors stay inside this package:
callers catch ``KubeError``.

Here are the requests and the idempotent apply; ``connection`` holds the credentials,
TLS and the pooled client, ``errors`` the ``KubeError`` family. Callers use all of
them through ``k8s``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

import httpx

from ragagent_operator import constants as c
from ragagent_operator import drift, manifest, metrics
from ragagent_operator.k8s.connection import MAX_IN_FLIGHT as MAX_IN_FLIGHT
from ragagent_operator.k8s.connection import Api as Api
from ragagent_operator.k8s.connection import close as close
from ragagent_operator.k8s.connection import connect as connect
from ragagent_operator.k8s.connection import login as login
from ragagent_operator.k8s.errors import ApiError as ApiError
from ragagent_operator.k8s.errors import ChildConflict as ChildConflict
from ragagent_operator.k8s.errors import KubeError as KubeError
from ragagent_operator.k8s.errors import Unreachable as Unreachable

Outcome = Literal["unchanged", "applied"]
HANDOVER_MANAGER = "ragagent-operator-handover"
DISCOVERY_TTL_SECONDS = 60.0

# Every kind the operator reads or writes, by apiVersion. Their plurals are regular.
KINDS: dict[str, tuple[str, ...]] = {
    # Pods are read only, for Job pods' termination messages.
    "v1": (
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "Service",
        "PersistentVolumeClaim",
        "Event",
        "Pod",
    ),
    "apps/v1": ("Deployment", "StatefulSet"),
    "policy/v1": ("PodDisruptionBudget",),
    "autoscaling/v2": ("HorizontalPodAutoscaler",),
    "networking.k8s.io/v1": ("NetworkPolicy",),
    "batch/v1": ("Job", "CronJob"),
    "bitnami.com/v1alpha1": ("SealedSecret",),
    "monitoring.coreos.com/v1": ("ServiceMonitor", "PrometheusRule"),
    c.API_VERSION: (c.KIND,),
    "kopf.dev/v1": ("ClusterKopfPeering",),  # read only: which replica is active
}


def plural(api_version: str, kind: str) -> str:
    """The resource name of ``kind`` in URLs; KeyError for a kind not in KINDS."""
    if kind not in KINDS[api_version]:
        raise KeyError((api_version, kind))
    lower = kind.lower()
    return f"{lower[:-1]}ies" if lower.endswith("y") else f"{lower}s"


def path_for(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    resource = plural(api_version, kind)
    root = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    return f"{root}{ns}/{resource}" + (f"/{name}" if name else "")


async def _call(
    api: Api, method: str, url: str, *, retry: bool = True, **kwargs: Any
) -> httpx.Response | None:
    """The single error wrapper: None on 404, one retry on 409 (unless not ``retry``), ApiError
    otherwise; Unreachable when no answer came."""
    for attempt in range(2 if retry else 1):
        async with api.in_flight:
            try:
                response = await api.http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                raise Unreachable(str(exc)) from exc
        metrics.API_REQUESTS.labels(verb=method).inc()
        if response.status_code == 404:
            return None
        if response.status_code == 409 and attempt == 0 and retry:
            await asyncio.sleep(0.2)
            continue
        if response.status_code >= 400:
            raise ApiError(response.status_code, _reason(response))
        return response
    raise ApiError(409, "conflict persisted after a retry")


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.reason_phrase))
    except ValueError:
        return response.reason_phrase


async def get(
    api: Api, api_version: str, kind: str, namespace: str | None, name: str
) -> manifest.Manifest | None:
    """The live object, or None when it does not exist."""
    response = await _call(api, "GET", path_for(api_version, kind, namespace, name))
    return None if response is None else dict(response.json())


async def list_objects(
    api: Api, api_version: str, kind: str, namespace: str, selector: dict[str, str]
) -> list[manifest.Manifest]:
    label_selector = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
    url = path_for(api_version, kind, namespace)
    response = await _call(api, "GET", url, params={"labelSelector": label_selector})
    return [] if response is None else list(response.json().get("items", []))


async def apply(
    api: Api, obj: manifest.Manifest, *, manager: str = c.FIELD_MANAGER, retry: bool = True
) -> manifest.Manifest:
    """Server-side apply, forcing ownership of the fields we set."""
    meta = obj["metadata"]
    url = path_for(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
    params = {"fieldManager": manager, "force": "true"}
    headers = {"Content-Type": "application/apply-patch+yaml"}
    response = await _call(api, "PATCH", url, retry=retry, params=params, headers=headers, json=obj)
    if response is None:
        raise ApiError(404, f"{manifest.describe(obj)}: namespace or type not found")
    return dict(response.json())


async def delete(
    api: Api, api_version: str, kind: str, namespace: str, name: str, *, owner: str | None = None
) -> bool:
    """Deletes with background propagation; False when it was already gone, or, given the
    ``owner`` uid, when it is neither that owner's child nor one its deleted namesake left
    (``is_left_by_predecessor``; no request sent then)."""
    live = await get(api, api_version, kind, namespace, name)
    if live is None:
        return False
    theirs = owner is not None and not manifest.is_owned_by(live, owner)
    if theirs and not await is_left_by_predecessor(api, live, owner):
        return False
    body = {"propagationPolicy": "Background"}
    await _call(api, "DELETE", path_for(api_version, kind, namespace, name), json=body)
    return True


async def patch_status(api: Api, namespace: str, name: str, status: dict[str, Any]) -> None:
    url = path_for(c.API_VERSION, c.KIND, namespace, name) + "/status"
    headers = {"Content-Type": "application/merge-patch+json"}
    await _call(api, "PATCH", url, headers=headers, json={"status": status})


async def group_version_exists(api: Api, group_version: str) -> bool:
    """Whether the API server serves ``group/version`` (its CRDs are installed).

    Cached for DISCOVERY_TTL_SECONDS: installing a CRD is rare, and asking on
    every reconcile of every RagAgent would double-count the same answer.
    """
    cached = api.discovery.get(group_version)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_TTL_SECONDS:
        return cached[1]
    found = await _call(api, "GET", f"/apis/{group_version}") is not None
    api.discovery[group_version] = (time.monotonic(), found)
    return found


async def get_text(api: Api, path: str) -> str | None:
    response = await _call(api, "GET", path)
    return None if response is None else response.text


async def create_event(api: Api, event: manifest.Manifest) -> None:
    await _call(api, "POST", path_for("v1", "Event", event["metadata"]["namespace"]), json=event)


# --- idempotent apply ---------------------------------------------------------


with_spec_hash = manifest.with_spec_hash


is_subset = drift.is_subset
matches = drift.matches


async def ensure(api: Api, obj: manifest.Manifest, *, absent: bool = False) -> Outcome:
    """Apply ``obj`` unless the live object already matches it (then nothing is written);
    ``absent``: the object is known not to exist, so it is applied without a read."""
    return (await ensure_object(api, obj, None, fetched=absent))[0]


async def ensure_object(
    api: Api,
    obj: manifest.Manifest,
    live: manifest.Manifest | None = None,
    *,
    fetched: bool = False,
    compare: bool = True,
) -> tuple[Outcome, manifest.Manifest]:
    """``ensure`` that also returns the object as the API server now holds it.

    ``fetched`` says ``live`` is already known (None: believed absent), so no read is sent;
    ``compare`` False applies even when ``live`` matches. Raises ChildConflict, writing
    nothing, when the object exists without our controller owner reference (``check_child``).
    """
    desired = with_spec_hash(obj)
    meta = desired["metadata"]
    if not fetched:
        live = await get(
            api, desired["apiVersion"], desired["kind"], meta["namespace"], meta["name"]
        )
    if live is None:
        return "applied", await _create(api, desired)
    leftover = await check_child(api, desired, live)
    if compare and not leftover and matches(desired, live):
        return "unchanged", live
    return "applied", await apply(api, _pinned(desired, live))


def check_owner(desired: manifest.Manifest, live: manifest.Manifest | None) -> None:
    """Raises ChildConflict when ``live`` exists without ``desired``'s controller (owner uid)."""
    owner = manifest.controller_uid(desired)
    if live is not None and owner is not None and not manifest.is_owned_by(live, owner):
        raise ChildConflict(live)


async def check_child(api: Api, desired: manifest.Manifest, live: manifest.Manifest | None) -> bool:
    """``check_owner``, except for a child a deleted namesake of its owner left
    (``is_left_by_predecessor``): True then, and the next apply takes it over (our field
    manager set the old owner reference, so the apply replaces it)."""
    if live is not None and await is_left_by_predecessor(
        api, live, manifest.controller_uid(desired)
    ):
        return True
    check_owner(desired, live)
    return False


async def is_left_by_predecessor(api: Api, live: manifest.Manifest, owner: str | None) -> bool:
    """Whether ``live``'s controller is a RagAgent deleted since, whose name the RagAgent of
    uid ``owner`` holds now.

    The garbage collector may leave such children long after their owner is gone: the soak
    suite saw a RagAgent deleted and created again around an API server restart keep its old
    children for more than 5 minutes, refused as namesakes all that while. The name is read
    afresh: a reconcile of a stale body (its owner re-created since) must not take the newer
    owner's children."""
    ref = manifest.controller_of(live)
    if owner is None or ref is None or ref.get("uid") == owner or ref.get("kind") != c.KIND:
        return False
    if not str(ref.get("apiVersion", "")).startswith(f"{c.GROUP}/"):
        return False
    namespace = live["metadata"]["namespace"]
    holder = await get(api, c.API_VERSION, c.KIND, namespace, str(ref.get("name", "")))
    return holder is not None and holder["metadata"].get("uid") == owner


def _pinned(desired: manifest.Manifest, live: manifest.Manifest) -> manifest.Manifest:
    """The apply of ``desired`` on exactly the object ``live`` (its uid as a precondition), so a
    namesake created in its place since it was read is refused rather than taken over."""
    meta = {**desired["metadata"], "uid": live["metadata"]["uid"]}
    return {**desired, "metadata": meta}


async def _create(api: Api, desired: manifest.Manifest) -> manifest.Manifest:
    """A create-only apply: resourceVersion "1" (no live object has it) is a precondition
    that fails with 409 when the object exists, and is ignored when it is created. On a 409
    the object is read: ours is applied to, anything else raises ChildConflict."""
    meta = desired["metadata"]
    try:
        return await apply(api, {**desired, "metadata": {**meta, "resourceVersion": "1"}},
                           retry=False)  # fmt: skip
    except ApiError as exc:
        if exc.status != 409:
            raise
    live = await get(api, desired["apiVersion"], desired["kind"], meta["namespace"], meta["name"])
    if live is None:
        raise ApiError(409, f"{manifest.describe(desired)} was deleted while being created")
    await check_child(api, desired, live)
    return await apply(api, _pinned(desired, live))


owns_replicas = manifest.owns_replicas


async def hand_over_replicas(api: Api, live: manifest.Manifest) -> None:
    """Before we stop applying ``replicas`` (HPA takes over), let a handover manager co-own it.

    Without this, server-side apply would delete the field we no longer send
    and the Deployment would drop to 1 replica until the HPA reacts.
    """
    meta = live["metadata"]
    patch = {
        "apiVersion": live["apiVersion"],
        "kind": live["kind"],
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {"replicas": live["spec"].get("replicas", 1)},
    }
    await apply(api, patch, manager=HANDOVER_MANAGER)
