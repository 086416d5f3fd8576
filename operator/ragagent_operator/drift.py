"""Whether a live object still holds what the operator would apply: pure comparison.

The API server adds defaults and status and canonicalizes quantities, so "matches" means
the same spec-hash annotation and every desired value present in the live object.
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator import manifest, quantity


def is_subset(desired: Any, live: Any) -> bool:
    """Every desired value is present in ``live`` (which may hold more: defaults, status)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return not desired
        return all(
            (_empty(v) and k not in live) or is_subset(v, live.get(k)) for k, v in desired.items()
        )
    if isinstance(desired, list):
        if not isinstance(live, list):
            return not desired and live is None
        return len(desired) == len(live) and all(
            is_subset(d, item) for d, item in zip(desired, live, strict=True)
        )
    return desired == live or _same_quantity(desired, live)


def _empty(value: Any) -> bool:
    return value in ({}, [], None)


def _same_quantity(desired: Any, live: Any) -> bool:
    """The API server canonicalizes quantities ("0.5" -> "500m"); compare their values."""
    return (
        isinstance(desired, str) and isinstance(live, str) and quantity.same_quantity(desired, live)
    )


def matches(desired: manifest.Manifest, live: manifest.Manifest | None) -> bool:
    if live is None:
        return False
    live_hash = (live["metadata"].get("annotations") or {}).get(c.Annotation.SPEC_HASH)
    return bool(
        live_hash == desired["metadata"]["annotations"][c.Annotation.SPEC_HASH]
        and is_subset(desired, live)
    )
