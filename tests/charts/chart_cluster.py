"""Helpers for chart tests on the real control plane: helm, and the operator run with the
settings and ServiceAccount the chart installed (the fake KWOK pods run no containers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.chart_helpers import CHART
from tests.operator.integration.harness import (
    MAIN_PRIORITY,
    Operator,
    get_json,
    is_healthy,
    started,
    wait_for,
)
from tests.support import controlplane, processes

REPO = CHART.parents[1]
SAMPLE = REPO / "manifests" / "samples" / "minimal.yaml"


def run_helm(
    cluster: controlplane.ControlPlane, home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Our helm against the test cluster, with its cache and config under ``home``; a failure
    is returned, not raised."""
    env = cluster.env() | {
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    argv = [str(cluster.tool("helm")), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240, check=False)


def helm(cluster: controlplane.ControlPlane, home: Path, *args: str) -> str:
    """``run_helm`` that fails the test when helm fails; returns helm's output."""
    done = run_helm(cluster, home, *args)
    assert done.returncode == 0, f"helm {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def install_chart(
    cluster: controlplane.ControlPlane, home: Path, release: str, ns: str, *args: str
) -> str:
    """``helm install`` of the chart into the session's cluster. The RagAgent CRD is
    cluster-wide, and other tests (``kubectl apply -k manifests/crd``) or an earlier release,
    which kept it on uninstall, may have made it: --take-ownership adopts it. The operator's
    container test applies the chart's own CRD with kubectl under its release name, so its
    labels may belong to kubectl with other values: --force-conflicts takes them over."""
    adopt = ("--take-ownership", "--force-conflicts")
    return helm(cluster, home, "install", release, str(CHART), "-n", ns, *adopt, *args)


def release_env(
    cluster: controlplane.ControlPlane, home: Path, release: str, ns: str
) -> dict[str, str]:
    """The operator's RAGAGENT_OPERATOR_* settings exactly as the installed chart set them."""
    manifests = [
        m for m in _load_all(helm(cluster, home, "get", "manifest", release, "-n", ns)) if m
    ]
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e["value"] for e in env if e["name"].startswith("RAGAGENT_OPERATOR_")}


def _load_all(text: str) -> list[Any]:
    return list(yaml.safe_load_all(text))


def start_chart_operator(
    cluster: controlplane.ControlPlane, chart_env: dict[str, str], kubeconfig: Path
) -> Operator:
    """Runs ragagent_operator.main with the chart's settings; only ports and test wiring differ.
    ``chart_env`` may name another sealing certificate file (an expired one, say)."""
    metrics_port, health_port = processes.free_ports(2)  # two calls may repeat a port
    # The test cluster runs the sealed-secrets controller as a process, not a Service.
    cert = {"RAGAGENT_OPERATOR_SEALED_SECRETS_CERT_FILE": str(cluster.sealing_cert_path)}
    env = (
        os.environ
        | cert
        | chart_env
        | {
            "KUBECONFIG": str(kubeconfig),
            "RAGAGENT_OPERATOR_METRICS_PORT": str(metrics_port),
            "RAGAGENT_OPERATOR_HEALTH_PORT": str(health_port),
            "RAGAGENT_OPERATOR_RESYNC_SECONDS": "3",
        }
    )
    log_path = cluster.workdir / f"chart-operator-{health_port}.log"
    with log_path.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ragagent_operator.main"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    priority = int(chart_env.get("RAGAGENT_OPERATOR_PRIORITY", MAIN_PRIORITY))
    operator = Operator(process, log_path, metrics_port, priority)
    wait_for(lambda: is_healthy(health_port), "chart operator liveness", operator=operator)
    return started(operator)


def condition(cluster: controlplane.ControlPlane, ns: str, name: str, kind: str) -> str | None:
    status = (get_json(cluster, "ragagent", name, "-n", ns) or {}).get("status") or {}
    return next((c["status"] for c in status.get("conditions") or [] if c["type"] == kind), None)


def wait_reconciled(cluster: controlplane.ControlPlane, ns: str) -> None:
    """Waits for Reconciled and DeploymentAvailable; fails showing the RagAgent's status."""
    wanted = ("Reconciled", "DeploymentAvailable")
    deadline = time.monotonic() + 120.0
    while time.monotonic() < deadline:
        if all(condition(cluster, ns, "docs", kind) == "True" for kind in wanted):
            return
        time.sleep(1.0)
    else:
        status = (get_json(cluster, "ragagent", "docs", "-n", ns) or {}).get("status")
        pytest.fail(f"sample not reconciled under the chart's RBAC: {json.dumps(status)}")


def own_reconciles(operator: Operator) -> float:
    """Reconciles this operator process ran itself (another operator may serve the same
    namespace in a full test session: the chart's RBAC is proven only by its own work)."""
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        lines = response.read().decode().splitlines()
    prefix = "ragagent_operator_reconciles_total{"
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(prefix))


def assert_served_by(operator: Operator) -> None:
    """The chart's operator reconciled under the chart's RBAC, without a refused request."""
    wait_for(lambda: own_reconciles(operator) > 0, "the chart operator's own reconcile",
             operator=operator, timeout=60)  # fmt: skip
    log = operator.log_path.read_text(errors="replace")
    assert "forbidden" not in log.lower(), "the chart's RBAC refused a request of the operator"
