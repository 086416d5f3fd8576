"""What every layer passes around: a Kubernetes object as a dict, and its stable hash.

Below both ``render`` (which builds objects) and ``k8s`` (which compares and sends
them), so that neither needs the other.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ragagent_operator import constants as c

Manifest = dict[str, Any]


def stable_hash(value: Any) -> str:
    """sha256 of the canonical JSON of ``value`` (hex, 16 chars: enough to detect change)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def controller_uid(obj: Manifest) -> str | None:
    """The uid in ``obj``'s controller owner reference; None when it names no controller."""
    for owner in obj["metadata"].get("ownerReferences") or []:
        if owner.get("controller"):
            return str(owner.get("uid") or "") or None
    return None


def controller_of(obj: Manifest) -> Manifest | None:
    """``obj``'s controller owner reference; None when it names no controller."""
    owners = obj["metadata"].get("ownerReferences") or []
    return next((dict(owner) for owner in owners if owner.get("controller")), None)


def is_owned_by(live: Manifest, uid: str) -> bool:
    """Whether the live object's controller owner reference carries ``uid`` (ours)."""
    return controller_uid(live) == uid


def is_marked_for_use(live: Manifest) -> bool:
    """Whether a Secret or ConfigMap is labelled for RagAgents to reference (``LABEL_USE``)."""
    return (live["metadata"].get("labels") or {}).get(c.LABEL_USE) == c.LABEL_USE_VALUE


def describe(obj: Manifest) -> str:
    """ "Kind namespace/name", how messages and Events name an object."""
    meta = obj["metadata"]
    return f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}"


def with_spec_hash(obj: Manifest) -> Manifest:
    """``obj`` annotated with the hash of itself, so removals in the spec are noticed too."""
    annotations = dict(obj["metadata"].get("annotations") or {})
    annotations.pop(c.Annotation.SPEC_HASH, None)
    digest = stable_hash({**obj, "metadata": {**obj["metadata"], "annotations": annotations}})
    annotations[c.Annotation.SPEC_HASH] = digest
    return {**obj, "metadata": {**obj["metadata"], "annotations": annotations}}


def owns_replicas(live: Manifest, manager: str = c.FIELD_MANAGER) -> bool:
    """Whether ``manager`` holds ``spec.replicas`` of a live Deployment (per managedFields)."""
    for entry in live["metadata"].get("managedFields") or []:
        spec_fields = (entry.get("fieldsV1") or {}).get("f:spec") or {}
        mine = entry.get("manager") == manager and entry.get("operation") == "Apply"
        if mine and "f:replicas" in spec_fields:
            return True
    return False
