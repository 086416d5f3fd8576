"""A real kubelet node runs the project's agent image as a restricted pod: the pod becomes
Ready, ``kubectl logs`` and ``kubectl exec`` reach it through the kubelet, and another pod
reaches it by pod IP over the node's bridge and by Service name through CoreDNS."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator, Mapping

import pytest

from tests.node import pods
from tests.support import controlplane, images, node, node_config

pytestmark = [pytest.mark.k8s, pytest.mark.node, pytest.mark.slow]
READY_TIMEOUT = "120s"


@pytest.fixture(scope="module")
def node_namespace(cluster: controlplane.ControlPlane) -> Iterator[str]:
    name = f"t-real-node-{secrets.token_hex(3)}"
    cluster.kubectl("create", "namespace", name)
    cluster.wait_for_service_account("default", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def apply(cluster: controlplane.ControlPlane, namespace: str, pod: Mapping[str, object]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod))


def pod_field(cluster: controlplane.ControlPlane, namespace: str, name: str, path: str) -> str:
    args = ("get", "pod", name, "-n", namespace, "-o", f"jsonpath={{{path}}}")
    return cluster.kubectl(*args).stdout.strip()


def wait_succeeded(cluster: controlplane.ControlPlane, namespace: str, name: str) -> str:
    """Waits for a run-once pod to succeed; returns its logs (in the failure message too)."""
    done = ("wait", "-n", namespace, "--for=jsonpath={.status.phase}=Succeeded", f"pod/{name}")
    result = cluster.kubectl(*done, f"--timeout={READY_TIMEOUT}", check=False)
    logs = cluster.kubectl("logs", "-n", namespace, name, check=False)
    assert result.returncode == 0, f"{result.stderr}\n{logs.stdout}{logs.stderr}"
    return logs.stdout


@pytest.fixture(scope="module")
def web_pod(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    agent_image: images.ImageRefs,
    node_namespace: str,
) -> str:
    """The Ready web pod's name; its start time (apply to Ready) is printed."""
    started = time.monotonic()
    apply(cluster, node_namespace, pods.build_web_pod("web", image=agent_image.agent))
    wait = ("wait", "-n", node_namespace, "--for=condition=Ready", "pod/web")
    result = cluster.kubectl(*wait, f"--timeout={READY_TIMEOUT}", check=False)
    assert result.returncode == 0, f"{result.stderr}\n{real_node.logs()}"
    print(f"web pod Ready {time.monotonic() - started:.1f}s after apply")
    return "web"


def test_restricted_agent_pod_becomes_ready_on_the_real_node(
    cluster: controlplane.ControlPlane, real_node: node.RealNode, node_namespace: str, web_pod: str
) -> None:
    assert pod_field(cluster, node_namespace, web_pod, ".spec.nodeName") == real_node.name
    pod_ip = pod_field(cluster, node_namespace, web_pod, ".status.podIP")
    assert pod_ip.startswith(f"{node_config.POD_NETWORK_PREFIX}.{real_node.network.index}.")


def test_kubectl_logs_shows_the_pods_output(
    cluster: controlplane.ControlPlane, node_namespace: str, web_pod: str
) -> None:
    logs = cluster.kubectl("logs", "-n", node_namespace, web_pod).stdout
    assert pods.GREETING in logs


def test_kubectl_exec_runs_as_the_restricted_user_on_a_read_only_root(
    cluster: controlplane.ControlPlane, node_namespace: str, web_pod: str
) -> None:
    exec_ = ("exec", "-n", node_namespace, web_pod, "--")
    assert cluster.kubectl(*exec_, "id", "-u").stdout.strip() == str(pods.UID)
    write = cluster.kubectl(*exec_, "touch", "/written", check=False)
    assert write.returncode != 0
    assert "Read-only file system" in write.stderr
    status = cluster.kubectl(*exec_, "grep", "-E", "^(Seccomp|CapEff):", "/proc/self/status")
    assert "Seccomp:\t2" in status.stdout  # filter mode: RuntimeDefault is applied
    assert "CapEff:\t0000000000000000" in status.stdout


def test_a_second_pod_reaches_the_first_by_pod_ip(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    agent_image: images.ImageRefs,
    node_namespace: str,
    web_pod: str,
) -> None:
    pod_ip = pod_field(cluster, node_namespace, web_pod, ".status.podIP")
    url = f"http://{pod_ip}:{pods.WEB_PORT}/{pods.WEB_FILE}"
    client = pods.build_client_pod("client", image=agent_image.agent, url=url)
    apply(cluster, node_namespace, client)
    logs = wait_succeeded(cluster, node_namespace, "client")
    assert f"b'{web_pod}\\n'" in logs  # the web pod's /etc/hostname


def test_pods_without_the_toleration_stay_off_the_real_node(
    cluster: controlplane.ControlPlane, real_node: node.RealNode, node_namespace: str
) -> None:
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"},
        "spec": {"containers": [{"name": "plain", "image": "localhost/none:0"}]},
    }  # fmt: skip
    apply(cluster, node_namespace, pod)
    wait = ("wait", "-n", node_namespace, "--for=condition=PodScheduled", "pod/plain")
    cluster.kubectl(*wait, "--timeout=60s")
    assert pod_field(cluster, node_namespace, "plain", ".spec.nodeName") == controlplane.FAKE_NODE


def test_a_service_name_resolves_from_a_pod_through_coredns(
    cluster: controlplane.ControlPlane,
    agent_image: images.ImageRefs,
    node_namespace: str,
    web_pod: str,
) -> None:
    apply(cluster, node_namespace, pods.build_service("web-svc", selects=web_pod))
    apply(cluster, node_namespace, pods.build_service("web-direct", selects=web_pod, headless=True))
    cluster_ip = cluster.kubectl(
        "get", "svc", "web-svc", "-n", node_namespace, "-o", "jsonpath={.spec.clusterIP}"
    ).stdout
    pod_ip = pod_field(cluster, node_namespace, web_pod, ".status.podIP")
    fqdn = f"web-svc.{node_namespace}.svc.{node_config.CLUSTER_DOMAIN}"
    url = f"http://web-direct:{pods.WEB_PORT}/{pods.WEB_FILE}"
    client = pods.build_dns_client_pod(
        "dns", image=agent_image.agent, names=["web-svc", fqdn, "web-direct"], url=url
    )
    apply(cluster, node_namespace, client)
    logs = wait_succeeded(cluster, node_namespace, "dns")
    assert f"web-svc {cluster_ip}" in logs
    assert f"{fqdn} {cluster_ip}" in logs
    assert f"web-direct {pod_ip}" in logs
    assert f"b'{web_pod}\\n'" in logs
