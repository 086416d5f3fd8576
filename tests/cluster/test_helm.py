"""helm (v4, built from source) installs a chart into the test control plane."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.charts import chart_cluster
from tests.support import controlplane

pytestmark = pytest.mark.k8s

CHART = Path(__file__).resolve().parent / "charts" / "tiny"


def helm(
    cluster: controlplane.ControlPlane, home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Runs our helm with its cache/config/data kept under ``home``, not the user's; raises
    CalledProcessError when it fails."""
    done = chart_cluster.run_helm(cluster, home, *args)
    done.check_returncode()
    return done


def test_helm_install_of_a_tiny_chart_works(
    cluster: controlplane.ControlPlane, namespace: str, tmp_path: Path
) -> None:
    helm(
        cluster,
        tmp_path,
        "install",
        "demo",
        str(CHART),
        "-n",
        namespace,
        "--set",
        "greeting=hi",
        "--wait",
        "--timeout=90s",
    )

    releases = json.loads(helm(cluster, tmp_path, "list", "-n", namespace, "-o", "json").stdout)
    greeting = cluster.kubectl(
        "get", "configmap", "demo-tiny", "-n", namespace, "-o", "jsonpath={.data.greeting}"
    )
    available = cluster.kubectl(
        "get",
        "deployment",
        "demo-tiny",
        "-n",
        namespace,
        "-o",
        "jsonpath={.status.availableReplicas}",
    )

    assert [(r["name"], r["status"]) for r in releases] == [("demo", "deployed")]
    assert greeting.stdout == "hi"
    assert available.stdout == "1"


def test_helm_uninstall_removes_the_release(
    cluster: controlplane.ControlPlane, namespace: str, tmp_path: Path
) -> None:
    helm(cluster, tmp_path, "install", "gone", str(CHART), "-n", namespace)

    helm(cluster, tmp_path, "uninstall", "gone", "-n", namespace, "--wait")

    leftover = cluster.kubectl(
        "get", "configmap", "gone-tiny", "-n", namespace, "--ignore-not-found", "-o", "name"
    )
    assert leftover.stdout.strip() == ""
