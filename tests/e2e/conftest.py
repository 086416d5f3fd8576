"""The ``e2e`` marker (``make e2e``) and the journey's module-wide pieces: one namespace
and the operator running against the session's real node (the chart's pods, or a host
process when pods cannot reach the API server)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from tests.charts import chart_cluster
from tests.e2e import chart, chat, manifests, steps
from tests.node import kube, pods
from tests.operator.integration import harness
from tests.support import controlplane, fixtures_cluster, images, node

# The external PostgreSQL pod's password Secret (``db_password``).
DB_CREDENTIALS = "db-credentials"
# The probe pod beside a module's agent that its requests go from (``client``).
CLIENT = "client"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: the user journey on a real kubelet node (make e2e), runs as root"
    )


@pytest.fixture(scope="module")
def journey_namespace(
    cluster: controlplane.ControlPlane, real_node: node.RealNode
) -> Iterator[str]:
    name = f"e2e-{secrets.token_hex(3)}"
    cluster.kubectl("create", "namespace", name)
    cluster.wait_for_service_account("default", name)
    harness.grant_secrets(cluster, name)  # the host operator runs in cluster mode (manifests)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


@pytest.fixture(scope="module")
def host_operator(
    cluster: controlplane.ControlPlane,
    agent_image: images.ImageRefs,
    request: pytest.FixtureRequest,
) -> Iterator[harness.Operator]:
    """The operator as a host process under the RBAC of manifests/ (as the cluster tests
    run it), with the built agent image as its default."""
    kubeconfig = harness.install(cluster)
    env = {"RAGAGENT_OPERATOR_DEFAULT_IMAGE": agent_image.agent}
    tag = f"e2e-{request.module.__name__.rsplit('.', 1)[-1]}"  # a log file per module
    running = harness.start_operator(cluster, kubeconfig, tag, extra_env=env)
    yield running
    harness.stop(running)


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
        fixtures_cluster.skip_loudly_or_fail(NO_API_ROUTE.format(why=why))
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


@pytest.fixture(scope="module")
def scraper(
    cluster: controlplane.ControlPlane, agent_image: images.ImageRefs
) -> Iterator[tuple[str, str]]:
    """A probe pod in the namespace the chart names for monitoring: (namespace, pod)."""
    ns, pod = chart.MONITORING_NAMESPACE, "scraper"
    kube.apply(
        cluster, "default", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    )
    cluster.wait_for_service_account("default", ns)
    kube.apply(cluster, ns, pods.build_probe_pod(pod, image=agent_image.agent, labels={}))
    kube.wait_ready(cluster, ns, pod)
    yield ns, pod
    cluster.kubectl("delete", "namespace", ns, "--wait=false")


@pytest.fixture(scope="module")
def db_password(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    agent_image: images.ImageRefs,
    journey_namespace: str,
) -> str:
    """A PostgreSQL pod (the project's image) behind the headless Service ``db``, Ready;
    returns its password."""
    password = secrets.token_urlsafe(24)
    credentials = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": DB_CREDENTIALS},
        "stringData": {"password": password},
    }  # fmt: skip
    ns = journey_namespace
    with steps.timed("external PostgreSQL pod Ready"):
        steps.apply(cluster, ns, credentials)
        steps.apply(cluster, ns, manifests.build_db_service())
        pod = manifests.build_postgres_pod(
            image=agent_image.postgres, node_name=real_node.name,
            password_secret=DB_CREDENTIALS, password_key="password",
        )  # fmt: skip
        steps.apply(cluster, ns, pod)
        steps.wait_pod_ready(cluster, ns, manifests.DB_SERVICE)
    return password


@pytest.fixture(scope="module")
def db_url(cluster: controlplane.ControlPlane, journey_namespace: str, db_password: str) -> str:
    """The external PostgreSQL pod's URL by pod IP: this node's cluster DNS is a host
    process, which the agent's NetworkPolicy (DNS to pods in any namespace) does not reach
    once kube-router enforces it."""
    pod = steps.get_json(cluster, journey_namespace, "pod", manifests.DB_SERVICE)
    return manifests.build_database_url(db_password, host=pod["status"]["podIP"])


@pytest.fixture(scope="module")
def external_agent(
    real_node: node.RealNode, agent_image: images.ImageRefs
) -> manifests.ExternalAgent:
    """``build(name, url_secret)``: a RagAgent of the built image on the real node, its
    database the external PostgreSQL pod through the URL in the Secret ``url_secret``."""

    def build(name: str, url_secret: str) -> dict[str, Any]:
        database = manifests.build_external_database(url_secret)
        return manifests.build_ragagent(
            name, image=agent_image.agent, node_name=real_node.name, database=database
        )

    return build


@pytest.fixture(scope="module")
def api_key(cluster: controlplane.ControlPlane, journey_namespace: str, agent: str) -> str:
    """An API key for the module's ``agent``, made as a user makes one."""
    with steps.timed("kubectl exec ... ragagent apikey create"):
        return chat.create_api_key(cluster, journey_namespace, agent)


@pytest.fixture(scope="module")
def client(
    cluster: controlplane.ControlPlane, agent_image: images.ImageRefs, journey_namespace: str
) -> Iterator[str]:
    """A probe pod beside the module's agent (the default ingressFrom admits it), that the
    module's requests go from through the agent's Service; its name."""
    with steps.probe_pod(cluster, journey_namespace, CLIENT, image=agent_image.agent) as pod:
        yield pod
