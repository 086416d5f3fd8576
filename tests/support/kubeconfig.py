"""Kubeconfig documents for the test control plane (written as JSON, which is valid YAML)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CLUSTER = "ragagent-test"


def build_kubeconfig(
    *, server: str, ca_path: Path, user: dict[str, str], name: str
) -> dict[str, Any]:
    """A single-context kubeconfig; ``user`` is the kubeconfig ``user`` stanza (cert or token)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": CLUSTER, "cluster": {"server": server, "certificate-authority": str(ca_path)}}
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": CLUSTER, "user": name}}],
        "current-context": name,
    }


def cert_user(cert: Path, key: Path) -> dict[str, str]:
    return {"client-certificate": str(cert), "client-key": str(key)}


def token_user(token: str) -> dict[str, str]:
    return {"token": token}


def write_kubeconfig(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path
