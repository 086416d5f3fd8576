"""The chart's source files: CRD copies, generated docs and dashboards (alerts: test_alerts)."""

from __future__ import annotations

import filecmp
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
import yaml

from ragagent.core import metrics as agent_metrics
from ragagent_operator import crd
from tests.charts import chart_metrics
from tests.charts.chart_helpers import CHART, REPO_ROOT

CRD_SOURCE = REPO_ROOT / "manifests" / "crd"
CHART_CRD_FOLDERS = (CHART / "crds", CHART / "files" / "crds")
RAGAGENT_CRD = "ragagent.dev_ragagents.yaml"
DASHBOARDS = sorted((CHART / "dashboards").glob("*.json"))


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_chart_crds_are_byte_identical_to_manifests() -> None:
    """The RagAgent CRD sits in files/crds/, which templates/crd-ragagents.yaml renders so that
    helm upgrades it; kopf's peering CRD stays in crds/, which helm installs first."""
    chart_crds = {p.name: p for folder in CHART_CRD_FOLDERS for p in folder.glob("*.yaml")}
    # kustomization.yaml serves `kubectl apply -k`; helm would try to install it as a CRD.
    source_crds = sorted(
        p.name for p in CRD_SOURCE.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    assert sorted(chart_crds) == source_crds, "copy manifests/crd/*.yaml into the chart"
    assert chart_crds[RAGAGENT_CRD].parent == CHART / "files" / "crds"
    for name, path in chart_crds.items():
        same = filecmp.cmp(path, CRD_SOURCE / name, shallow=False)
        assert same, f"{path} differs from manifests/crd/{name}; copy it again"


def test_chart_ragagent_crd_is_the_generated_one() -> None:
    assert (CHART / "files" / "crds" / RAGAGENT_CRD).read_text() == crd.render_yaml()


@pytest.mark.parametrize("script", ["gen-chart-docs.py", "gen-dashboards.py"])
def test_generated_files_are_up_to_date(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "hack" / script), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_every_value_is_documented_in_the_readme() -> None:
    readme = (CHART / "README.md").read_text()
    schema = json.loads((CHART / "values.schema.json").read_text())
    for key in ("grafana.dashboards.enabled", "serviceMonitor.enabled", "watchNamespaces"):
        assert f"| `{key}` |" in readme
    assert schema["additionalProperties"] is False
    assert schema["properties"]["sealedSecrets"]["properties"]["installCRD"]["type"] == "boolean"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_templated_by_namespace_and_agent(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"datasource", "namespace", "agent"} <= variables.keys()
    assert dashboard["schemaVersion"] >= 39
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["targets"], f"panel {panel['title']!r} has no query"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_queries_use_only_known_metrics(path: Path) -> None:
    known = chart_metrics.series_names(agent_metrics.REGISTRY)
    known |= chart_metrics.operator_series_names() | chart_metrics.EXTERNAL_METRICS
    for expr in dashboard_exprs(json.loads(path.read_text())):
        unknown = chart_metrics.metric_names_in(expr) - known
        assert not unknown, f"{path.name}: {expr} uses unknown metrics {unknown}"


def test_overview_shows_every_agent_metric_family_the_issue_asks_for() -> None:
    exprs = " ".join(
        dashboard_exprs(json.loads((CHART / "dashboards" / "ragagent-overview.json").read_text()))
    )
    for name in (
        "ragagent_http_requests_total",
        "ragagent_http_request_duration_seconds_bucket",
        "ragagent_llm_duration_seconds_bucket",
        "ragagent_llm_tokens_total",
        "ragagent_llm_errors_total",
        "ragagent_retrieval_duration_seconds_bucket",
        "ragagent_retrieval_empty_total",
        "ragagent_websockets_active",
        "ragagent_rate_limited_total",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "ragagent_operator_last_backup_timestamp_seconds",
    ):
        assert name in exprs


def _operator_families() -> dict[str, str]:
    """Family name -> type of every metric the operator registers (default registry)."""
    importlib.import_module("ragagent_operator.metrics")
    return {family.name: family.type for family in prometheus_client.REGISTRY.collect()}


def _missing(exposed: dict[str, str], wanted: dict[str, str]) -> dict[str, str]:
    expected = {name.removesuffix("_total"): kind for name, kind in wanted.items()}
    return {name: kind for name, kind in expected.items() if exposed.get(name) != kind}


def test_operator_defines_the_metrics_the_dashboards_use() -> None:
    missing = _missing(_operator_families(), chart_metrics.OPERATOR_METRICS)
    assert not missing, f"ragagent_operator.metrics does not define {missing}"


def test_operator_defines_the_per_ragagent_gauges() -> None:
    missing = _missing(_operator_families(), chart_metrics.OPERATOR_REQUESTED_METRICS)
    assert not missing, f"ragagent_operator.metrics does not define {missing}"


def test_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    """promtool parses each query (variables substituted) as a recording rule's expression."""
    exprs = [e for path in DASHBOARDS for e in dashboard_exprs(json.loads(path.read_text()))]
    concrete = [
        e.replace("$__rate_interval", "1m").replace("$namespace", "ns").replace("$agent", "a")
        for e in exprs
    ]
    rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(concrete)]
    path = tmp_path / "dashboards.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run(
        [chart_metrics.promtool(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(exprs)} rules found" in done.stdout
