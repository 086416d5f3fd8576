"""What every layer passes around: a Kubernetes object as a dict, and its stable hash.

Below both ``render`` (which builds objects) and ``k8s`` (which compares and sends
them), so that neither needs the other.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

Manifest = dict[str, Any]


def stable_hash(value: Any) -> str:
    """sha256 of the canonical JSON of ``value`` (hex, 16 chars: enough to detect change)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
