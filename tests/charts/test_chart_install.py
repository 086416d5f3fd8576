"""The chart on the real local control plane: install, the operator at work, upgrade, uninstall.

The operator runs as a local process (the fake KWOK pods run no containers) with the settings
the chart put in its Deployment and a token of the chart's ServiceAccount, so a Reconciled
sample proves the chart's RBAC is enough for a real reconcile.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.charts.chart_cluster import (
    SAMPLE,
    assert_served_by,
    helm,
    install_chart,
    release_env,
    start_chart_operator,
    wait_reconciled,
)
from tests.charts.chart_helpers import CHART
from tests.operator.integration.harness import get_json, stop
from tests.support import controlplane

pytestmark = [pytest.mark.k8s, pytest.mark.slow]


def can_i(cluster: controlplane.ControlPlane, account: str, verb: str, what: str, ns: str) -> bool:
    args = ("auth", "can-i", verb, what, "-n", ns, f"--as={account}")
    return cluster.kubectl(*args, check=False).stdout.strip() == "yes"


def test_namespaced_install_reconciles_a_sample_then_upgrades_and_uninstalls(
    cluster: controlplane.ControlPlane, namespace: str, agents_namespace: str, tmp_path: Path
) -> None:
    release, peering = "ops", f"chart-{namespace[-6:]}"
    install_chart(
        cluster, tmp_path, release, namespace,
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
        wait_reconciled(cluster, agents_namespace)
        assert_served_by(operator)
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
    # crds.keep: the CRD, and so the RagAgents elsewhere in the cluster, survive an uninstall.
    assert get_json(cluster, "crd", "ragagents.ragagent.dev") is not None


def test_cluster_mode_install_grants_every_namespace_and_uninstalls(
    cluster: controlplane.ControlPlane, namespace: str, tmp_path: Path
) -> None:
    release = "cm"
    peering = f"chart-cm-{namespace[-6:]}"
    # Cluster mode is opt-in since namespaced mode became the default (issue 15).
    install_chart(cluster, tmp_path, release, namespace, "--set", "clusterWide=true",
                  "--set", f"peering.name={peering}", "--wait", "--timeout=120s")  # fmt: skip
    account = f"system:serviceaccount:{namespace}:{release}-ragagent-operator"
    assert can_i(cluster, account, "patch", "deployments", "default")
    assert can_i(cluster, account, "watch", "ragagents.ragagent.dev", "default")
    assert not can_i(cluster, account, "list", "secrets", "default")
    assert not can_i(cluster, account, "delete", "ragagents.ragagent.dev", "default")
    helm(cluster, tmp_path, "uninstall", release, "-n", namespace, "--wait", "--timeout=120s")
    assert get_json(cluster, "clusterrole", f"{release}-ragagent-operator") is None
