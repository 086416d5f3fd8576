"""The user journey on the real node, as a user runs it: ``helm install`` of the operator
chart (two replicas of the built image, running as pods), then the minimal sample with a
knowledge ConfigMap, an API key made with ``kubectl exec``, and chat through ``kubectl
port-forward`` with the OpenAI SDK and over a WebSocket. One chart install and one
RagAgent serve every step, in order; each prints its wall time.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts import chart_cluster
from tests.e2e import chart, chat, steps
from tests.e2e import manifests as e2e_manifests
from tests.operator.integration import harness
from tests.support import controlplane, fixtures_cluster, images, node

# The first test also waits for the images and the node (minutes on a cold, shared machine).
pytestmark = [
    pytest.mark.k8s, pytest.mark.node, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)
]  # fmt: skip
SAMPLE = chart_cluster.REPO / "manifests" / "samples" / "minimal.yaml"
KNOWLEDGE = "docs-knowledge"
# A fact no model knows: the answer can only come from the ConfigMap.
FACT_FILE = "returns.md"
FACT = "Zephyr lamps may be returned within 47 days when the receipt shows a teal stamp."
QUESTION = "Within how many days may Zephyr lamps be returned?"
NO_API_ROUTE = (
    "!!! operator pods cannot reach the API server ({why}), so the chart's operator pods "
    "are NOT RUN !!!"
)


def api_route_problem(cluster: controlplane.ControlPlane, real_node: node.RealNode) -> str:
    """Why a pod could not reach the API server through the ``kubernetes`` Service; '' when
    it can: the node runs kube-proxy and the Service's endpoint is not a loopback address."""
    if getattr(real_node, "service_network", None) is None:
        return "the real node runs no kube-proxy"
    slices = steps.get_json(
        cluster, "default", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes"
    )
    addresses = [a for s in slices["items"] for e in s["endpoints"] for a in e["addresses"]]
    if not addresses or any(a.startswith("127.") for a in addresses):
        shown = ", ".join(addresses) or "none"
        return f"the kubernetes Service's endpoint addresses are {shown}: none a pod can route to"
    return ""


@pytest.fixture(scope="module")
def journey_operator(
    request: pytest.FixtureRequest, cluster: controlplane.ControlPlane, real_node: node.RealNode
) -> Callable[[], str]:
    """The sample's operator, as a function returning its last log lines: the chart's pods
    when the node routes Services, else (loudly) a host process under manifests/rbac, as
    the cluster tests run it."""
    why = api_route_problem(cluster, real_node)
    if not why:
        ns = str(request.getfixturevalue("operator_namespace"))
        return lambda: operator_logs(cluster, ns)
    print(f"\n{NO_API_ROUTE.format(why=why)}\n[e2e] the sample's operator runs on the host")
    host: harness.Operator = request.getfixturevalue("host_operator")
    return lambda: host.log()[-4000:]


@pytest.fixture(scope="module")
def operator_namespace(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    agent_image: images.ImageRefs,
    journey_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The chart installed with ``helm install`` into its own namespace; both operator
    pods Ready. Uninstalled at the end."""
    why = api_route_problem(cluster, real_node)
    if why:
        # A known gap of the test node (issue 14), not a missing tool: reported as an
        # expected failure in every run, CI included, until the node routes pods to the API.
        pytest.xfail(NO_API_ROUTE.format(why=why))
    home = tmp_path_factory.mktemp("helm")
    ns = f"e2e-operator-{secrets.token_hex(3)}"
    cluster.kubectl("create", "namespace", ns)
    values = chart.build_values(
        agent_image, node_name=real_node.name, api_port=chart.api_port(cluster),
        watch=journey_namespace,
    )  # fmt: skip
    values_file = home / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    with steps.timed("helm install, two operator pods Ready"):
        chart_cluster.install_chart(cluster, home, chart.RELEASE, ns, "--values", str(values_file))
        wait = ("wait", "-n", ns, "--for=condition=Ready", "pod", "-l", chart.SELECTOR)
        done = cluster.kubectl(*wait, "--timeout=180s", check=False)
        assert done.returncode == 0, f"{done.stderr}\n{describe(cluster, ns)}"
    yield ns
    chart_cluster.run_helm(cluster, home, "uninstall", chart.RELEASE, "-n", ns, "--wait")
    cluster.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found")


def describe(cluster: controlplane.ControlPlane, ns: str) -> str:
    return cluster.kubectl("describe", "pods", "-n", ns, check=False).stdout[-4000:]


def operator_logs(cluster: controlplane.ControlPlane, ns: str) -> str:
    """The chart's operator pods' last log lines."""
    logs = cluster.kubectl("logs", "-n", ns, "-l", chart.SELECTOR, "--tail=40", check=False)
    return logs.stdout + logs.stderr


def test_the_chart_runs_two_operator_pods_on_the_real_node_and_one_is_active(
    cluster: controlplane.ControlPlane, real_node: node.RealNode, operator_namespace: str
) -> None:
    pods = steps.get_json(cluster, operator_namespace, "pods", "-l", chart.SELECTOR)["items"]
    assert len(pods) == 2
    assert {pod["spec"]["nodeName"] for pod in pods} == {real_node.name}

    def paused() -> list[str]:
        names = [pod["metadata"]["name"] for pod in pods]
        logs = {n: cluster.kubectl("logs", "-n", operator_namespace, n).stdout for n in names}
        return [name for name, log in logs.items() if chart.PAUSED in log]

    with steps.timed("one operator replica pauses for the other"):
        standby = steps.wait_until(lambda: paused(), "a standby replica", timeout=120)
    assert len(standby) == 1, f"both replicas paused: {standby}"


@pytest.fixture(scope="module")
def sample(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    agent_image: images.ImageRefs,
    journey_operator: Callable[[], str],
    journey_namespace: str,
) -> str:
    """The minimal sample plus a knowledge ConfigMap, on the real node, Ready; its name.
    Its managed database needs a default StorageClass (the node's local-path provisioner)."""
    if getattr(real_node, "service_network", None) is not None:
        # A known gap of the test node (issue 14), reported as an expected failure.
        pytest.xfail(
            "!!! the node enforces NetworkPolicies (kube-router) and its cluster DNS is a host "
            "process on the node IP, which the agent's DNS egress rule (pods in any namespace) "
            "does not reach: the agent cannot resolve its managed database, so the sample "
            "journey is NOT RUN !!!"
        )
    if not has_default_storage_class(cluster):
        fixtures_cluster.skip_loudly_or_fail(
            "!!! no default StorageClass: the managed database's volume cannot bind, so the "
            "minimal sample is NOT RUN !!!"
        )
    agent = yaml.safe_load(SAMPLE.read_text())
    spec = agent["spec"]
    spec.update(e2e_manifests.build_real_node_scheduling(real_node.name))
    # No registry here: the managed database runs the locally built PostgreSQL image.
    spec["database"]["managed"]["image"] = agent_image.postgres
    spec["knowledge"] = {"sources": [{"configMap": {"name": KNOWLEDGE}}]}
    name = str(agent["metadata"]["name"])
    with steps.timed("minimal sample + knowledge ConfigMap -> Ready=True"):
        steps.apply(cluster, journey_namespace, build_knowledge(FACT))
        steps.apply(cluster, journey_namespace, agent)
        steps.wait_for_condition(
            cluster, journey_namespace, name, lambda c: c["status"] == "True", timeout=420,
            explain=journey_operator,
        )  # fmt: skip
    return name


def build_knowledge(fact: str) -> dict[str, Any]:
    """The knowledge ConfigMap: one Markdown file holding ``fact``."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": KNOWLEDGE, "labels": e2e_manifests.USE_LABEL},
        "data": {FACT_FILE: f"# Returns\n\n{fact}\n"},
    }  # fmt: skip


def has_default_storage_class(cluster: controlplane.ControlPlane) -> bool:
    classes = json.loads(cluster.kubectl("get", "storageclass", "-o", "json").stdout)["items"]
    default = "storageclass.kubernetes.io/is-default-class"
    return any(c["metadata"].get("annotations", {}).get(default) == "true" for c in classes)


def test_the_sample_is_ready_only_with_a_ready_agent_pod_on_the_real_node(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    journey_namespace: str,
    sample: str,
) -> None:
    selector = f"app.kubernetes.io/instance={sample},app.kubernetes.io/component=agent"
    pods = steps.get_json(cluster, journey_namespace, "pods", "-l", selector)["items"]
    ready = [pod for pod in pods if is_ready(pod)]
    assert ready, "Ready=True without a Ready agent pod"
    assert {pod["spec"]["nodeName"] for pod in ready} == {real_node.name}


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.fixture(scope="module")
def api_key(cluster: controlplane.ControlPlane, journey_namespace: str, sample: str) -> str:
    with steps.timed("kubectl exec ... ragagent apikey create"):
        return chat.create_api_key(cluster, journey_namespace, sample)


@pytest.fixture(scope="module")
def forwarded(
    cluster: controlplane.ControlPlane, journey_namespace: str, sample: str
) -> Iterator[str]:
    """``kubectl port-forward svc/<sample>``: the local base URL."""
    with chat.port_forward(cluster, journey_namespace, f"svc/{sample}") as url:
        yield url


def test_chat_through_port_forward_with_the_openai_sdk_cites_the_knowledge_configmap(
    forwarded: str, api_key: str, tmp_path: Path
) -> None:
    with steps.timed("OpenAI SDK chat through kubectl port-forward"):
        answer, citations = chat.ask_openai(forwarded, api_key, QUESTION)
    assert "47" in answer, answer
    assert any(chat.cites(c, FACT_FILE) for c in citations), json.dumps(citations)


def test_chat_over_a_websocket_cites_the_knowledge_configmap(forwarded: str, api_key: str) -> None:
    with steps.timed("WebSocket chat through kubectl port-forward"):
        answer, citations = chat.ask_websocket(forwarded, api_key, QUESTION)
    assert "47" in answer, answer
    assert any(chat.cites(c, FACT_FILE) for c in citations), json.dumps(citations)
