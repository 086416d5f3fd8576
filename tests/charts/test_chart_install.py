"""The chart on the real local control plane: install, the operator at work, upgrade, uninstall.

The operator runs as a local process (the fake KWOK pods run no containers) with the settings
the chart put in its Deployment and a token of the chart's ServiceAccount, so a Reconciled
sample proves the chart's RBAC is enough for a real reconcile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.chart_helpers import CHART
from tests.operator.integration.harness import Operator, get_json, stop, wait_for
from tests.support import controlplane, processes

pytestmark = [pytest.mark.k8s, pytest.mark.slow]
REPO = CHART.parents[1]
SAMPLE = REPO / "manifests" / "samples" / "minimal.yaml"


def helm(cluster: controlplane.ControlPlane, home: Path, *args: str) -> str:
    """Our helm against the test cluster, with its cache and config under ``home``."""
    env = cluster.env() | {
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    argv = [str(cluster.tool("helm")), *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, f"helm {' '.join(args)} failed: {done.stderr}"
    return done.stdout


@pytest.fixture
def agents_namespace(cluster: controlplane.ControlPlane, namespace: str) -> Iterator[str]:
    """A second namespace, the one the operator watches in namespaced mode."""
    name = f"{namespace[:55]}-agents"
    cluster.kubectl("create", "namespace", name)
    cluster.wait_for_service_account("default", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


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
    """Runs ragagent_operator.main with the chart's settings; only ports and test wiring differ."""
    metrics_port, health_port = processes.free_port(), processes.free_port()
    env = (
        os.environ
        | chart_env
        | {
            "KUBECONFIG": str(kubeconfig),
            "RAGAGENT_OPERATOR_METRICS_PORT": str(metrics_port),
            "RAGAGENT_OPERATOR_HEALTH_PORT": str(health_port),
            # The test cluster runs the sealed-secrets controller as a process, not a Service.
            "RAGAGENT_OPERATOR_SEALED_SECRETS_CERT_FILE": str(cluster.sealing_cert_path),
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
    operator = Operator(process, log_path, metrics_port)
    wait_for(lambda: _healthy(health_port), "chart operator liveness", operator=operator)
    return operator


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except OSError:
        return False


def condition(cluster: controlplane.ControlPlane, ns: str, name: str, kind: str) -> str | None:
    status = (get_json(cluster, "ragagent", name, "-n", ns) or {}).get("status") or {}
    return next((c["status"] for c in status.get("conditions") or [] if c["type"] == kind), None)


def _wait_reconciled(cluster: controlplane.ControlPlane, ns: str) -> None:
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


def can_i(cluster: controlplane.ControlPlane, account: str, verb: str, what: str, ns: str) -> bool:
    args = ("auth", "can-i", verb, what, "-n", ns, f"--as={account}")
    return cluster.kubectl(*args, check=False).stdout.strip() == "yes"


def test_namespaced_install_reconciles_a_sample_then_upgrades_and_uninstalls(
    cluster: controlplane.ControlPlane, namespace: str, agents_namespace: str, tmp_path: Path
) -> None:
    release, peering = "ops", f"chart-{namespace[-6:]}"
    helm(
        cluster, tmp_path, "install", release, str(CHART), "-n", namespace,
        "--set", f"watchNamespaces={{{agents_namespace}}}", "--set", f"peering.name={peering}",
        "--wait", "--timeout=120s",
    )  # fmt: skip
    fullname = f"{release}-ragagent-operator"
    account = f"system:serviceaccount:{namespace}:{fullname}"
    deployment = get_json(cluster, "deployment", fullname, "-n", namespace)
    assert deployment["status"]["availableReplicas"] == 2
    assert get_json(cluster, "clusterkopfpeering", peering) is not None
    assert can_i(cluster, account, "patch", "deployments", agents_namespace)
    assert not can_i(cluster, account, "patch", "deployments", "default")
    assert not can_i(cluster, account, "get", "secrets", "default")

    token = cluster.token_for(fullname, namespace)
    kubeconfig = cluster.kubeconfig_for_token(token, name="chart-operator")
    operator = start_chart_operator(
        cluster, release_env(cluster, tmp_path, release, namespace), kubeconfig
    )
    try:
        cluster.kubectl("apply", "-n", agents_namespace, "-f", str(SAMPLE))
        # Reconciled (every child applied) and DeploymentAvailable are the operator's work. Ready
        # also waits for the managed PostgreSQL, whose volume no provisioner binds here.
        _wait_reconciled(cluster, agents_namespace)
        assert get_json(cluster, "deployment", "docs", "-n", agents_namespace) is not None
        cluster.kubectl("delete", "-n", agents_namespace, "-f", str(SAMPLE), "--wait=true")
    finally:
        stop(operator)

    helm(cluster, tmp_path, "upgrade", release, str(CHART), "-n", namespace, "--reuse-values",
         "--set", "logLevel=DEBUG", "--wait", "--timeout=120s")  # fmt: skip
    assert (
        release_env(cluster, tmp_path, release, namespace)["RAGAGENT_OPERATOR_LOG_LEVEL"] == "DEBUG"
    )
    history = json.loads(helm(cluster, tmp_path, "history", release, "-n", namespace, "-o", "json"))
    assert [h["status"] for h in history] == ["superseded", "deployed"]

    helm(cluster, tmp_path, "uninstall", release, "-n", namespace, "--wait", "--timeout=120s")
    assert get_json(cluster, "deployment", fullname, "-n", namespace) is None
    assert get_json(cluster, "clusterrole", f"{fullname}-peering") is None
    # helm never deletes crds/: RagAgents elsewhere in the cluster survive an uninstall.
    assert get_json(cluster, "crd", "ragagents.ragagent.dev") is not None


def test_cluster_mode_install_grants_every_namespace_and_uninstalls(
    cluster: controlplane.ControlPlane, namespace: str, tmp_path: Path
) -> None:
    release = "cm"
    peering = f"chart-cm-{namespace[-6:]}"
    helm(cluster, tmp_path, "install", release, str(CHART), "-n", namespace,
         "--set", f"peering.name={peering}", "--wait", "--timeout=120s")  # fmt: skip
    account = f"system:serviceaccount:{namespace}:{release}-ragagent-operator"
    assert can_i(cluster, account, "patch", "deployments", "default")
    assert can_i(cluster, account, "watch", "ragagents.ragagent.dev", "default")
    assert not can_i(cluster, account, "list", "secrets", "default")
    assert not can_i(cluster, account, "delete", "ragagents.ragagent.dev", "default")
    helm(cluster, tmp_path, "uninstall", release, "-n", namespace, "--wait", "--timeout=120s")
    assert get_json(cluster, "clusterrole", f"{release}-ragagent-operator") is None
