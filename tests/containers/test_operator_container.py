"""The operator image run as the chart's Deployment pod, against the local control plane.

The chart's CRDs, ServiceAccount, RBAC and peering object are applied to the cluster, and
its Deployment's pod runs under podman with the chart's ServiceAccount token, so the
operator works under exactly the chart's RBAC.

One change to the pod, made here in the open: it logs in from a mounted kubeconfig (that
token, the cluster CA, the API server on 127.0.0.1) instead of the projected token. In a
cluster the projected token is used with ``https://kubernetes.default.svc``; the local API
server has no Service address on port 443 and no certificate for that name.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts import chart_helpers
from tests.operator.integration import harness
from tests.support import controlplane, kubeconfig
from tests.support import images as built_images
from tests.support.podrun import model, runner, translate, workloads

pytestmark = [pytest.mark.containers, pytest.mark.k8s]
RELEASE, RELEASE_NAMESPACE = "podrun", "ragagent-podrun"
# Everything the chart renders that the cluster needs before the operator starts.
SETUP_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
KUBECONFIG_SECRET, KUBECONFIG_DIR = "operator-kubeconfig", "/var/run/kubeconfig"


def render_chart(images: built_images.ImageRefs) -> list[dict[str, Any]]:
    repository, tag = images.operator.rsplit(":", 1)
    sets = [
        f"image.repository={repository}",
        f"image.tag={tag}",
        f"defaultAgentImage={images.agent}",
        f"peering.name={RELEASE}",  # apart from the peering of the integration tests' operator
    ]
    args = ["template", RELEASE, str(chart_helpers.CHART), "--namespace", RELEASE_NAMESPACE]
    args += ["--include-crds", *(arg for pair in sets for arg in ("--set", pair))]
    return [doc for doc in yaml.safe_load_all(chart_helpers.run_helm(*args)) if doc]


def apply(cluster: controlplane.ControlPlane, objects: list[dict[str, Any]]) -> None:
    items = {"apiVersion": "v1", "kind": "List", "items": objects}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(items))


def install(cluster: controlplane.ControlPlane, chart: list[dict[str, Any]]) -> None:
    """CRDs first (and established), then the namespace, RBAC and the peering object."""
    crds = chart_helpers.of_kind(chart, "CustomResourceDefinition")
    apply(cluster, crds)
    names = [f"crd/{crd['metadata']['name']}" for crd in crds]
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=120s", *names)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": RELEASE_NAMESPACE}}
    setup = [obj for obj in chart if obj["kind"] in SETUP_KINDS]
    apply(cluster, [namespace, *setup, *chart_helpers.of_kind(chart, "ClusterKopfPeering")])


def with_kubeconfig(pod_spec: dict[str, Any]) -> dict[str, Any]:
    """The pod logging in from the kubeconfig Secret instead of the projected token."""
    spec = copy.deepcopy(pod_spec)
    spec["automountServiceAccountToken"] = False
    spec["volumes"].append({"name": "kubeconfig", "secret": {"secretName": KUBECONFIG_SECRET}})
    container = spec["containers"][0]
    mount = {"name": "kubeconfig", "mountPath": KUBECONFIG_DIR, "readOnly": True}
    container["volumeMounts"].append(mount)
    container["env"].append({"name": "KUBECONFIG", "value": f"{KUBECONFIG_DIR}/config"})
    return spec


def kubeconfig_secret(cluster: controlplane.ControlPlane, token: str) -> dict[str, Any]:
    """A kubeconfig with the CA inline, since only the Secret's files reach the container."""
    config = kubeconfig.build_kubeconfig(
        server=cluster.server,
        ca_path=cluster.ca_path,
        user=kubeconfig.token_user(token),
        name="operator",
    )
    ca_data = base64.b64encode(cluster.ca_path.read_bytes()).decode()
    config["clusters"][0]["cluster"] = {
        "server": cluster.server,
        "certificate-authority-data": ca_data,
    }
    return {"data": {"config": base64.b64encode(json.dumps(config).encode()).decode()}}


def operator_plan(
    cluster: controlplane.ControlPlane, deployment: dict[str, Any], host_dir: Path
) -> model.RunPlan:
    pod_spec = workloads.pod_spec_of(deployment)
    token = cluster.token_for(pod_spec["serviceAccountName"], RELEASE_NAMESPACE, duration="2h")
    around = model.Cluster(
        api_server=("127.0.0.1", cluster.ports.apiserver),
        secrets={KUBECONFIG_SECRET: kubeconfig_secret(cluster, token)},
    )
    return translate.build_run_plan(
        with_kubeconfig(pod_spec),
        pod=workloads.pod_identity(deployment),
        cluster=around,
        host_dir=host_dir,
    )


@pytest.fixture(scope="module")
def operator_pod(
    cluster: controlplane.ControlPlane,
    images: built_images.ImageRefs,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[runner.Container]:
    chart = render_chart(images)
    install(cluster, chart)
    deployment = chart_helpers.find(chart, "Deployment")
    plan = operator_plan(cluster, deployment, tmp_path_factory.mktemp("operator-pod"))
    with runner.running(plan, timeout=120) as container:
        yield container


TLS_QUERY = "?sslmode=verify-full&sslrootcert=system"  # what production asks of a URL


def rag_agent(name: str, db_secret: str) -> dict[str, Any]:
    """A RagAgent with plain generated Secrets (no sealing controller behind a Service here)."""
    return {
        "apiVersion": "ragagent.dev/v1alpha1",
        "kind": "RagAgent",
        "metadata": {"name": name},
        "spec": {
            "database": {"external": {"secretRef": {"name": db_secret, "key": "url"}}},
            "secrets": {"provider": "kubernetes"},
        },
    }


def test_the_operator_container_reconciles_a_rag_agent(
    cluster: controlplane.ControlPlane,
    operator_pod: runner.Container,
    images: built_images.ImageRefs,
) -> None:
    # A default install is namespaced: it watches its own release namespace only.
    namespace = RELEASE_NAMESPACE
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "docs-pg",
            "namespace": namespace,
            "labels": {"ragagent.dev/use": "true"},
        },
        "stringData": {"url": "postgresql://u:p@db.example:5432/rag" + TLS_QUERY},
    }
    agent = rag_agent("docs", "docs-pg")
    agent["metadata"]["namespace"] = namespace
    apply(cluster, [secret, agent])

    def reconciled() -> bool:
        live = harness.get_json(cluster, "ragagent", "docs", "-n", namespace) or {}
        conditions = (live.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Reconciled" and c["status"] == "True" for c in conditions)

    harness.wait_for(reconciled, "Reconciled=True from the operator container", timeout=120)
    live = harness.get_json(cluster, "deployment", "docs", "-n", namespace)
    assert live is not None, operator_pod.logs()[1][-3000:]
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == images.agent


def test_the_operator_container_exits_zero_on_sigterm(operator_pod: runner.Container) -> None:
    code = runner.stop(operator_pod)
    assert code == 0, operator_pod.logs()[1][-3000:]
