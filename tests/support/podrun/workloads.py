"""The pod a workload controller would create from a rendered manifest."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tests.support.podrun import model


def pod_spec_of(manifest: Mapping[str, Any], *, ordinal: int = 0) -> dict[str, Any]:
    """The pod spec of a Pod, Deployment, Job, CronJob or StatefulSet (a deep copy).

    A StatefulSet's pod also gets one volume per ``volumeClaimTemplates`` entry, bound to
    the claim ``<template>-<statefulset>-<ordinal>``, as the StatefulSet controller does.
    """
    kind = manifest["kind"]
    if kind == "Pod":
        return copy.deepcopy(dict(manifest["spec"]))
    if kind in ("Deployment", "Job"):
        return copy.deepcopy(dict(manifest["spec"]["template"]["spec"]))
    if kind == "CronJob":
        return copy.deepcopy(dict(manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    if kind == "StatefulSet":
        return _statefulset_pod_spec(manifest, ordinal)
    raise model.UnsupportedFieldError(f"kind {kind!r} has no pod template")


def _statefulset_pod_spec(manifest: Mapping[str, Any], ordinal: int) -> dict[str, Any]:
    spec = copy.deepcopy(dict(manifest["spec"]["template"]["spec"]))
    name = manifest["metadata"]["name"]
    claims = [
        {
            "name": template["metadata"]["name"],
            "persistentVolumeClaim": {"claimName": claim_name(manifest, template, ordinal)},
        }
        for template in manifest["spec"].get("volumeClaimTemplates") or []
    ]
    taken = {volume["name"] for volume in spec.get("volumes") or []}
    clash = taken & {claim["name"] for claim in claims}
    if clash:
        raise model.TranslationError(f"StatefulSet {name}: volumes {sorted(clash)} clash")
    spec["volumes"] = [*(spec.get("volumes") or []), *claims]
    return spec


def claim_name(manifest: Mapping[str, Any], template: Mapping[str, Any], ordinal: int = 0) -> str:
    return f"{template['metadata']['name']}-{manifest['metadata']['name']}-{ordinal}"


def pod_identity(manifest: Mapping[str, Any], *, ordinal: int = 0) -> model.PodIdentity:
    """A pod name as the controller would choose it (a fixed suffix instead of a random one)."""
    meta = manifest["metadata"]
    suffix = str(ordinal) if manifest["kind"] == "StatefulSet" else "podrun"
    name = meta["name"] if manifest["kind"] == "Pod" else f"{meta['name']}-{suffix}"
    return model.PodIdentity(name=name, namespace=meta.get("namespace", "default"))
