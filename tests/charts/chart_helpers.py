"""Renders the ragagent-operator chart with the real helm binary and parses the output."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tests.support import tools
from tests.support.fixtures_cluster import skip_loudly_or_fail

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "ragagent-operator"
RELEASE = "rel"
NAMESPACE = "ops"
FULLNAME = "rel-ragagent-operator"
PROMETHEUS_APIS = (
    "monitoring.coreos.com/v1",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
)


class HelmError(RuntimeError):
    """helm exited non-zero; the message carries its stderr (the preflight or schema error)."""


def helm_binary() -> Path:
    """The helm built by hack/build-k8s-tools; skips (with the command to run) when absent,
    and fails instead in CI."""
    helm = tools.tools_bin() / "helm"
    if not os.access(helm, os.X_OK):
        skip_loudly_or_fail(
            f"!!! helm is not built at {helm}: chart tests NOT RUN !!! run `make tools`"
        )
    return helm


def run_helm(*args: str) -> str:
    """Runs helm with a private cache/config dir so tests never touch the user's repos."""
    env = {**os.environ, "HELM_CACHE_HOME": "/tmp/ragagent-helm-cache"}
    env |= {"HELM_CONFIG_HOME": "/tmp/ragagent-helm-config", "HELM_DATA_HOME": "/tmp/ragagent-helm"}
    done = subprocess.run(
        [str(helm_binary()), *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise HelmError(done.stderr)
    return done.stdout


def render(
    *sets: str, api_versions: Iterable[str] = (), include_crds: bool = False, chart: Path = CHART
) -> list[dict[str, Any]]:
    """``helm template`` with ``--set`` pairs, parsed into manifests (empty documents dropped)."""
    args = ["template", RELEASE, str(chart), "--namespace", NAMESPACE]
    args += [arg for pair in sets for arg in ("--set", pair)]
    args += [arg for api in api_versions for arg in ("--api-versions", api)]
    if include_crds:
        args.append("--include-crds")
    return [doc for doc in yaml.safe_load_all(run_helm(*args)) if doc]


def find(manifests: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The one manifest of ``kind`` (and ``name``); fails the test when it is not exactly one."""
    matches = [m for m in of_kind(manifests, kind) if name in (None, m["metadata"]["name"])]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, got {len(matches)}"
    return matches[0]


def of_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == kind]


def remove_crds_values(chart: Path) -> None:
    """Drops the `crds` section from a copy of the chart's values and schema: the values of a
    release made with chart 0.1.x, before it existed."""
    values = yaml.safe_load((chart / "values.yaml").read_text())
    del values["crds"]
    (chart / "values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    schema = json.loads((chart / "values.schema.json").read_text())
    del schema["properties"]["crds"]
    (chart / "values.schema.json").write_text(json.dumps(schema, indent=2))
