"""Helpers to run the real operator as a subprocess under its own ServiceAccount token.

The ServiceAccount, ClusterRole and binding come from ``manifests/rbac`` and
nothing else, so every passing test also proves that RBAC is sufficient.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support import controlplane, peering, processes

REPO = Path(__file__).resolve().parents[3]
RESYNC_SECONDS = 3.0
# A short peering record lifetime: a replica killed without a goodbye is presumed dead after
# this, so a standby takes over within seconds (production keeps the default of 60 s).
PEERING_LIFETIME_SECONDS = 15
# Every test operator has an explicit peering priority. A random one makes the active replica
# a coin toss; the session's operator has the lowest, so any replica a test starts for itself
# (priority above it) takes over, and it resumes once those are gone.
MAIN_PRIORITY = 100
CRDS = ("ragagents.ragagent.dev", "clusterkopfpeerings.kopf.dev")
OPERATOR_NAMESPACE = "ragagent-system"
OPERATOR_SERVICE_ACCOUNT = "ragagent-operator"
# Every test operator authenticates with this ServiceAccount's token (``install``); the API
# server's audit log names its requests by this user.
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}"
# The ClusterRole of Secret access in cluster mode, bound per namespace (``grant_secrets``).
SECRETS_ROLE = "ragagent-operator-secrets"
# The kinds (plural names) the operator writes: a no-op resync writes none of them.
OPERATOR_RESOURCES = frozenset(
    {
        "ragagents",
        "deployments",
        "services",
        "configmaps",
        "serviceaccounts",
        "secrets",
        "sealedsecrets",
        "networkpolicies",
        "poddisruptionbudgets",
        "horizontalpodautoscalers",
        "statefulsets",
        "jobs",
        "cronjobs",
        "persistentvolumeclaims",
    }
)


@dataclass
class Operator:
    process: subprocess.Popen[bytes]
    log_path: Path
    metrics_port: int
    priority: int = MAIN_PRIORITY

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


# Every operator process the tests started, so a new one can wait for the others to yield.
_STARTED: list[Operator] = []


def is_active(replica: Operator) -> bool:
    """Whether the replica's last peering transition was a resume (a replica starts paused)."""
    return peering.is_active(replica.log())


def started(operator: Operator) -> Operator:
    """Registers a new replica and waits until every running lower-priority one has paused.

    A higher priority makes the others pause, but only once they read the new peering record:
    on a loaded machine that takes seconds, and a RagAgent applied in that window is
    reconciled by the session's cluster-wide operator with its own settings (it sealed what a
    test's pinned-certificate operator had to refuse)."""
    _STARTED.append(operator)
    lower = [
        other
        for other in _STARTED
        if other.priority < operator.priority and other.process.poll() is None
    ]
    for other in lower:
        wait_for(partial(is_paused, other), "a lower replica to pause", operator=other)
    return operator


def is_paused(replica: Operator) -> bool:
    return not is_active(replica)


def start_operator(
    cluster: controlplane.ControlPlane,
    kubeconfig: Path,
    tag: str,
    *,
    priority: int = MAIN_PRIORITY,
    resync_seconds: float = RESYNC_SECONDS,
    extra_env: dict[str, str] | None = None,
) -> Operator:
    # Distinct ports: two separate free_port() calls may hand back the same one.
    metrics_port, health_port = processes.free_ports(2)
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "RAGAGENT_OPERATOR_SEALED_SECRETS_CERT_FILE": str(cluster.sealing_cert_path),
        "RAGAGENT_OPERATOR_RESYNC_SECONDS": str(resync_seconds),
        "RAGAGENT_OPERATOR_METRICS_PORT": str(metrics_port),
        "RAGAGENT_OPERATOR_HEALTH_PORT": str(health_port),
        "RAGAGENT_OPERATOR_DEFAULT_IMAGE": "ragagent:test",
        "RAGAGENT_OPERATOR_PRIORITY": str(priority),
        "RAGAGENT_OPERATOR_PEERING_LIFETIME_SECONDS": str(PEERING_LIFETIME_SECONDS),
        **(extra_env or {}),
    }
    log_path = cluster.workdir / f"operator-{tag}.log"
    argv = [sys.executable, "-m", "ragagent_operator.main"]
    with log_path.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO)
    operator = Operator(process, log_path, metrics_port, priority)
    wait_for(lambda: is_healthy(health_port), f"operator {tag} liveness", operator=operator)
    return started(operator)


def install(cluster: controlplane.ControlPlane) -> Path:
    """CRDs, cluster-mode RBAC and the peering object from manifests/; returns the operator's
    kubeconfig. Cluster mode grants no Secret access: ``grant_secrets`` per namespace."""
    cluster.kubectl("apply", "-k", str(REPO / "manifests" / "crd"))
    wait_established(cluster)
    cluster.kubectl("apply", "-k", str(REPO / "manifests" / "rbac-cluster"))
    cluster.kubectl("apply", "-f", str(REPO / "manifests" / "operator" / "peering.yaml"))
    token = cluster.token_for(OPERATOR_SERVICE_ACCOUNT, OPERATOR_NAMESPACE, duration="10h")
    return cluster.kubeconfig_for_token(token, name="ragagent-operator")


def grant_secrets(cluster: controlplane.ControlPlane, namespace: str) -> None:
    """Binds ``ragagent-operator-secrets`` in ``namespace``, as manifests/rbac-cluster tells an
    admin to do for each namespace whose RagAgents read or generate Secrets."""
    cluster.kubectl(
        "create", "rolebinding", SECRETS_ROLE, "-n", namespace, f"--clusterrole={SECRETS_ROLE}",
        f"--serviceaccount={OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}",
    )  # fmt: skip


def wait_established(cluster: controlplane.ControlPlane, crds: Sequence[str] = CRDS) -> None:
    """Polls until every CRD in ``crds`` is Established. Not ``kubectl wait``: it fails at
    once, instead of waiting, on a CRD whose status has no conditions yet, which is how a
    just-created CRD looks for a moment on a loaded machine."""

    def established(name: str) -> bool:
        conditions = ((get_json(cluster, "crd", name) or {}).get("status") or {}).get("conditions")
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions or [])

    wait_for(lambda: all(map(established, crds)), f"{', '.join(crds)} Established", timeout=120)


def is_healthy(port: int) -> bool:
    """Whether the operator on ``port`` answers its liveness probe (False while it does not)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except OSError:
        return False


def wait_for(
    check: Callable[[], Any], what: str, *, timeout: float = 60.0, operator: Operator | None = None
) -> Any:
    """Polls ``check`` until it returns something truthy; fails with the operator log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if operator is not None and operator.process.poll() is not None:
            break
        time.sleep(0.5)
    tail = operator.log()[-3000:] if operator else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}")


def kill(operator: Operator) -> None:
    """SIGKILL: no cleanup, so the replica's peering record stays until its lifetime runs out."""
    operator.process.kill()
    operator.process.wait()


def stop(operator: Operator) -> None:
    """SIGTERM: kopf removes this replica's peering record on the way out."""
    operator.process.terminate()
    try:
        operator.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        operator.process.kill()
        operator.process.wait()


def get_json(cluster: controlplane.ControlPlane, *args: str) -> Any:
    result = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def assert_workload_children(
    cluster: controlplane.ControlPlane, ns: str, name: str = "docs"
) -> None:
    """The children every RagAgent gets, whatever happens to its Secrets."""
    for kind, child in [
        ("serviceaccount", name),
        ("configmap", f"{name}-config"),
        ("deployment", name),
        ("service", name),
        ("networkpolicy", f"{name}-agent"),
    ]:
        assert get_json(cluster, kind, child, "-n", ns) is not None, f"{kind}/{child} missing"


def job_from_cronjob(cronjob: dict[str, Any], name: str) -> dict[str, Any]:
    """A Job as the CronJob controller starts it: the template's labels, owned by the CronJob.

    Suspended, so the Job controller starts no pods and the test alone decides the outcome.
    """
    template, meta = cronjob["spec"]["jobTemplate"], cronjob["metadata"]
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": meta["name"],
             "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}  # fmt: skip
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": template["metadata"]["labels"],
            "ownerReferences": [owner],
        },
        "spec": {**template["spec"], "suspend": True},
    }
