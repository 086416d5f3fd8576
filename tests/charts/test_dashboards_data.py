"""Every dashboard query returns data from real components scraped by the real Prometheus.

The agent is the real app (real pipeline, embedded PostgreSQL, the OpenAI provider against the
local fake server) with its metrics registry served on a port; the operator is the real process,
installed by the chart and reconciling the sample with autoscaling on (and one backup Job
finished through the API); kube-state-metrics (built by hack/build-k8s-tools) exports the HPA;
Debian's Prometheus scrapes all three every second.
Each expression is evaluated with the template variables substituted, and every one must return
data: there is no list of queries allowed to be empty.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import prometheus_client
import pytest
import yaml
from fastapi.testclient import TestClient

from ragagent.core import metrics as agent_metrics
from ragagent_operator import sealing
from tests.charts import chart_cluster
from tests.charts.chart_backup import run_backup
from tests.charts.chart_helpers import CHART
from tests.operator.integration.harness import get_json, stop
from tests.support import chat_app, controlplane, processes, tools
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures_cluster import skip_loudly_or_fail

pytestmark = [pytest.mark.k8s, pytest.mark.db, pytest.mark.slow]
log = logging.getLogger(__name__)
# The agent is labelled as the sample RagAgent's Service, in the namespace the operator watches.
AGENT_SERVICE = "docs"
TRAFFIC_SECONDS = 20.0
# The only kube-state-metrics series the dashboards read are the HPA's.
KSM_RESOURCES = "horizontalpodautoscalers"
KSM_READY_SERIES = "kube_horizontalpodautoscaler_spec_min_replicas"


def start_prometheus(
    tmp_path: Path, jobs: list[dict[str, Any]]
) -> tuple[str, subprocess.Popen[bytes]]:
    """Debian's prometheus scraping ``jobs`` every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        skip_loudly_or_fail("!!! prometheus missing: dashboard data NOT CHECKED !!! "
                            "`make system-deps` installs it")  # fmt: skip
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": jobs,
    }
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = processes.free_port()
    argv = [binary, f"--config.file={config_path}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    processes.wait_until("prometheus", lambda: _ok(f"{url}/-/ready"), timeout=60)
    return url, process


def scrape_jobs(ports: dict[str, int], *, agent_ns: str, operator_ns: str) -> list[dict[str, Any]]:
    """The agent labelled like a ServiceMonitor target would be; the operator and
    kube-state-metrics keep their own namespace labels, as their ServiceMonitors do."""
    agent = {"namespace": agent_ns, "service": AGENT_SERVICE}
    return [
        _job("ragagent", ports["agent"], agent),
        {**_job("ragagent-operator", ports["operator"], {"namespace": operator_ns}),
         "honor_labels": True},
        {**_job("kube-state-metrics", ports["ksm"], {}), "honor_labels": True},
    ]  # fmt: skip


def _job(name: str, port: int, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "job_name": name,
        "static_configs": [{"targets": [f"127.0.0.1:{port}"], "labels": labels}],
    }


def kube_state_metrics(cluster: controlplane.ControlPlane) -> Path:
    """The built binary; skips loudly when it is missing (fails in CI), like the cluster fixture."""
    try:
        return tools.require_tool(cluster.tools_bin, tools.KUBE_STATE_METRICS)
    except tools.ToolsMissingError as exc:
        skip_loudly_or_fail(f"!!! KUBE-STATE-METRICS MISSING: dashboard data NOT CHECKED !!! {exc}")


def start_kube_state_metrics(
    cluster: controlplane.ControlPlane, binary: Path, log_dir: Path, namespace: str
) -> tuple[int, processes.Component]:
    """kube-state-metrics on the test cluster, exporting the HPAs of ``namespace`` only."""
    port, telemetry = processes.free_ports(2)
    argv = [str(binary), f"--kubeconfig={cluster.kubeconfig_path}", f"--resources={KSM_RESOURCES}",
            f"--namespaces={namespace}", "--host=127.0.0.1", f"--port={port}",
            "--telemetry-host=127.0.0.1", f"--telemetry-port={telemetry}"]  # fmt: skip
    component = processes.start("kube-state-metrics", argv, log_dir=log_dir)
    url = f"http://127.0.0.1:{port}/metrics"
    exported = functools.partial(_exports, url, KSM_READY_SERIES)
    processes.wait_until("kube-state-metrics to export the HPA", exported, timeout=60,
                         watch=[component])  # fmt: skip
    return port, component


def _exports(url: str, series: str) -> bool:
    try:
        return f"{series}{{" in httpx.get(url, timeout=2).text
    except httpx.HTTPError:
        return False


def autoscaled_sample(tmp_path: Path) -> Path:
    """The minimal sample with autoscaling on, so the operator creates the HPA."""
    body = yaml.safe_load(chart_cluster.SAMPLE.read_text())
    body["spec"]["autoscaling"] = {"enabled": True}
    path = tmp_path / "sample-autoscaled.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def query(prometheus: str, expr: str) -> list[Any]:
    body = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", f"{expr}: {body}"
    result: list[Any] = body["data"]["result"]
    return result


def label_values(prometheus: str, metric: str, label: str) -> list[str]:
    url = f"{prometheus}/api/v1/label/{label}/values"
    values: list[str] = httpx.get(url, params={"match[]": metric}, timeout=10).json()["data"]
    return values


STORAGE_DOC = (
    "# What RagAgent stores in PostgreSQL\n\nRagAgent stores its documents, their chunks and "
    "the chunks' embeddings in PostgreSQL with pgvector, along with conversations and API keys."
)


def traffic_client(chat_app_factory: Any, fake_openai: FakeOpenAI) -> TestClient:
    """The agent on the fake OpenAI server, holding a document the traffic's question finds
    relevant: with none the agent declines without calling the LLM, and the LLM panels had
    data only from earlier tests in this process (the metrics registry is the process's), so
    alone the test failed."""
    client: TestClient = chat_app_factory(
        llm_provider="openai", openai_base_url=f"{fake_openai.url}/v1", openai_api_key="sk-test",
        chat_model="fake-model", llm_max_retries=0, rate_limit_requests_per_minute=40,
        rate_limit_burst=0,
    )  # fmt: skip
    chat_app.ingest(client, external_id="storage", title="Storage", text=STORAGE_DOC)
    return client


def drive_traffic(client: TestClient, fake: FakeOpenAI, seconds: float) -> None:
    """Chats (some through injected LLM failures) until the per-identity limit starts refusing."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fake.behaviour.fail_with = [500] if int(time.monotonic()) % 4 == 0 else []
        client.post("/v1/chat", json={"message": "What does RagAgent store in PostgreSQL?"})
        client.get("/v1/documents")
        time.sleep(0.2)


@pytest.fixture
def agent_metrics_port() -> Iterator[int]:
    port = processes.free_port()
    server, thread = prometheus_client.start_http_server(port, registry=agent_metrics.REGISTRY)
    yield port
    server.shutdown()
    thread.join(timeout=5)


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        p.stem: json.loads(p.read_text()) for p in sorted((CHART / "dashboards").glob("*.json"))
    }


def substitute(expr: str, agents_namespace: str) -> str:
    expr = expr.replace("$__rate_interval", "1m").replace("$namespace", agents_namespace)
    return expr.replace("$agent", AGENT_SERVICE)


def test_every_dashboard_query_returns_data(
    cluster: controlplane.ControlPlane,
    namespace: str,
    agents_namespace: str,
    tmp_path: Path,
    chat_app_factory: Any,
    fake_openai: FakeOpenAI,
    agent_metrics_port: int,
) -> None:
    ksm_binary = kube_state_metrics(cluster)
    client = traffic_client(chat_app_factory, fake_openai)
    chart_cluster.install_chart(
        cluster, tmp_path, "obs", namespace,
        "--set", f"watchNamespaces={{{agents_namespace}}}",
        "--set", f"peering.name=obs-{namespace[-6:]}", "--wait", "--timeout=120s",
    )  # fmt: skip
    kubeconfig = cluster.kubeconfig_for_token(
        cluster.token_for("obs-ragagent-operator", namespace), name="obs-operator"
    )
    operator = chart_cluster.start_chart_operator(
        cluster, chart_cluster.release_env(cluster, tmp_path, "obs", namespace), kubeconfig
    )
    prometheus: subprocess.Popen[bytes] | None = None
    ksm: processes.Component | None = None
    sample = autoscaled_sample(tmp_path)
    try:
        cluster.kubectl("apply", "-n", agents_namespace, "-f", str(sample))
        chart_cluster.wait_reconciled(cluster, agents_namespace)
        chart_cluster.assert_served_by(operator)
        run_backup(cluster, agents_namespace, "docs")  # data for the backup panels
        ksm_port, ksm = start_kube_state_metrics(cluster, ksm_binary, tmp_path, agents_namespace)
        ports = {"agent": agent_metrics_port, "operator": operator.metrics_port, "ksm": ksm_port}
        url, prometheus = start_prometheus(
            tmp_path, scrape_jobs(ports, agent_ns=agents_namespace, operator_ns=namespace)
        )
        drive_traffic(client, fake_openai, TRAFFIC_SECONDS)
        results = evaluate_all(url, agents_namespace)
        gauges = exported_gauges(url, agents_namespace)
        hpa_bounds = exported_hpa_bounds(url, agents_namespace)
        live_hpa_bounds = hpa_spec_bounds(cluster, agents_namespace)
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=30)
        if ksm is not None:
            ksm.stop()
        stop(operator)
        cluster.kubectl("delete", "-n", agents_namespace, "-f", str(sample), "--wait=false")
        chart_cluster.helm(cluster, tmp_path, "uninstall", "obs", "-n", namespace, "--wait")
    (tmp_path / "dashboard-results.json").write_text(json.dumps(results, indent=1))
    empty = [r["expr"] for r in results if not r["series"]]
    assert not empty, f"{len(empty)} of {len(results)} queries returned no data: {empty}"
    expiry = sealing.cert_expiry(cluster.sealing_cert_path.read_bytes()).timestamp()
    assert gauges == {"backup_success": 1.0, "sealing_cert_expiry": expiry}
    assert hpa_bounds == live_hpa_bounds
    log.warning("%d dashboard queries checked, all returned data", len(results))


def exported_gauges(prometheus: str, agents_namespace: str) -> dict[str, float]:
    """The backup result and sealing certificate expiry as Prometheus scraped them."""
    selector = f'{{namespace="{agents_namespace}", ragagent="{AGENT_SERVICE}"}}'
    exprs = {
        "backup_success": f"ragagent_operator_backup_success{selector}",
        "sealing_cert_expiry": "ragagent_operator_sealing_cert_expiry_timestamp_seconds",
    }
    found = {key: query(prometheus, expr) for key, expr in exprs.items()}
    return {key: float(series[0]["value"][1]) for key, series in found.items() if len(series) == 1}


def exported_hpa_bounds(prometheus: str, agents_namespace: str) -> list[float]:
    """The HPA's [min, max] replicas as kube-state-metrics exported them."""
    selector = f'{{namespace="{agents_namespace}", horizontalpodautoscaler="{AGENT_SERVICE}"}}'
    found = [query(prometheus, f"kube_horizontalpodautoscaler_spec_{bound}_replicas{selector}")
             for bound in ("min", "max")]  # fmt: skip
    return [float(series[0]["value"][1]) for series in found if len(series) == 1]


def hpa_spec_bounds(cluster: controlplane.ControlPlane, agents_namespace: str) -> list[float]:
    """The [min, max] replicas of the HPA the operator created, read from the API server."""
    hpa = get_json(cluster, "hpa", AGENT_SERVICE, "-n", agents_namespace) or {"spec": {}}
    return [float(hpa["spec"].get(key, "nan")) for key in ("minReplicas", "maxReplicas")]


def evaluate_all(prometheus: str, agents_namespace: str) -> list[dict[str, Any]]:
    """Every panel query and template-variable query of both dashboards, evaluated."""
    results = []
    for name, dashboard in dashboards().items():
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = substitute(target["expr"], agents_namespace)
                series = len(query(prometheus, expr))
                results.append({"dashboard": name, "panel": panel["title"], "expr": expr,
                                "series": series})  # fmt: skip
        for variable in dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            metric, label = _parse_label_values(variable["definition"], agents_namespace)
            values = label_values(prometheus, metric, label)
            results.append({"dashboard": name, "panel": f"${variable['name']}", "expr": metric,
                            "series": len(values)})  # fmt: skip
    return results


def _parse_label_values(definition: str, agents_namespace: str) -> tuple[str, str]:
    """``label_values(metric{...}, label)`` -> (selector, label), variables substituted."""
    inner = definition.removeprefix("label_values(").removesuffix(")")
    metric, label = (part.strip() for part in inner.rsplit(",", 1))
    return metric.replace("$namespace", agents_namespace), label
