"""The chart's source files: CRD copies, generated docs and dashboards, and the alert rules."""

from __future__ import annotations

import filecmp
import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
import yaml
from prometheus_client import CollectorRegistry

from ragagent.core import metrics as agent_metrics
from tests.charts.chart_helpers import CHART, REPO_ROOT
from tests.support.fixtures_cluster import skip_loudly_or_fail

CRD_SOURCE = REPO_ROOT / "manifests" / "crd"
DASHBOARDS = sorted((CHART / "dashboards").glob("*.json"))
ALERT_RULES = CHART / "alerts" / "ragagent.rules.yaml"
ALERT_TESTS = sorted((REPO_ROOT / "tests" / "charts" / "alerts").glob("*.test.yaml"))
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
RUNBOOK_PREFIX = "https://github.com/ragagent/ragagent/blob/main/docs/runbooks/"

# The operator's metrics the dashboards and alerts use, as ragagent_operator.metrics defines them.
OPERATOR_METRICS = {
    "ragagent_operator_reconciles_total": "counter",
    "ragagent_operator_reconcile_duration_seconds": "histogram",
    "ragagent_operator_step_duration_seconds": "histogram",
    "ragagent_operator_step_errors_total": "counter",
    "ragagent_operator_api_requests_total": "counter",
    "ragagent_operator_watched_ragagents": "gauge",
}
# Per-RagAgent gauges (labels namespace, ragagent) for the replica and backup panels and alerts,
# and the sealing certificate's expiry (labels namespace, service).
OPERATOR_REQUESTED_METRICS = {
    "ragagent_operator_agent_ready_replicas": "gauge",
    "ragagent_operator_agent_desired_replicas": "gauge",
    "ragagent_operator_last_backup_timestamp_seconds": "gauge",
    "ragagent_operator_backup_success": "gauge",
    "ragagent_operator_sealing_cert_expiry_timestamp_seconds": "gauge",
}
# Series from kube-state-metrics, which every Prometheus Operator install ships.
EXTERNAL_METRICS = {
    "kube_horizontalpodautoscaler_spec_min_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
PROMQL_WORDS |= {"unless", "bool", "offset", "le", "inf", "nan"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def series_names(registry: CollectorRegistry) -> set[str]:
    """Every series name a registry can expose, derived from its families' names and types."""
    names: set[str] = set()
    for family in registry.collect():
        base = family.name.removesuffix("_total")
        names |= {base + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
    return names


def operator_series_names() -> set[str]:
    names = set()
    for name, kind in (OPERATOR_METRICS | OPERATOR_REQUESTED_METRICS).items():
        base = name.removesuffix("_total")
        names |= {base + suffix for suffix in _SUFFIXES[kind]}
    return names


def metric_names_in(expr: str) -> set[str]:
    """Metric names referenced by a PromQL expression (label matchers, ranges, calls removed)."""
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", text)
    tokens = re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()", text)
    return {t for t in tokens if t.lower() not in PROMQL_WORDS and not re.fullmatch(r"\d.*", t)}


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_chart_crds_are_byte_identical_to_manifests() -> None:
    chart_crds = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    # kustomization.yaml serves `kubectl apply -k`; helm would try to install it as a CRD.
    source_crds = sorted(
        p.name for p in CRD_SOURCE.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    assert chart_crds == source_crds, (
        "copy manifests/crd/*.yaml into charts/ragagent-operator/crds/"
    )
    for name in chart_crds:
        same = filecmp.cmp(CHART / "crds" / name, CRD_SOURCE / name, shallow=False)
        assert same, f"crds/{name} differs from manifests/crd/{name}; copy it again"


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
    known = series_names(agent_metrics.REGISTRY) | operator_series_names() | EXTERNAL_METRICS
    for expr in dashboard_exprs(json.loads(path.read_text())):
        unknown = metric_names_in(expr) - known
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
    missing = _missing(_operator_families(), OPERATOR_METRICS)
    assert not missing, f"ragagent_operator.metrics does not define {missing}"


def test_operator_defines_the_per_ragagent_gauges() -> None:
    missing = _missing(_operator_families(), OPERATOR_REQUESTED_METRICS)
    assert not missing, f"ragagent_operator.metrics does not define {missing}"


def test_operator_gauges_carry_the_labels_the_alert_tests_use() -> None:
    """The promtool tests' input series are labelled exactly as the operator labels them."""
    metrics = importlib.import_module("ragagent_operator.metrics")
    found = [g for g in vars(metrics).values() if isinstance(g, prometheus_client.Gauge)]
    gauges = {g._name: tuple(g._labelnames) for g in found}
    used: dict[str, set[tuple[str, ...]]] = {}
    for path in ALERT_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for item in test["input_series"]:
                name, _, labels = item["series"].partition("{")
                keys = tuple(sorted(re.findall(r'(\w+)="', labels)))
                used.setdefault(name, set()).add(keys)
    for name in OPERATOR_REQUESTED_METRICS:
        assert used.get(name), f"no promtool test feeds {name}"
        assert used[name] == {tuple(sorted(gauges[name]))}, name


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        skip_loudly_or_fail(
            "!!! promtool missing: alert and query checks NOT RUN !!! "
            "`make system-deps` installs Debian prometheus"
        )
    return promtool


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
        [_promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(exprs)} rules found" in done.stdout


def test_alert_rules_pass_promtool_check() -> None:
    done = subprocess.run(
        [_promtool(), "check", "rules", str(ALERT_RULES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_alert_rules_pass_their_promtool_unit_tests() -> None:
    args = [_promtool(), "test", "rules", *map(str, ALERT_TESTS)]
    done = subprocess.run(args, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_every_alert_has_annotations_and_an_existing_runbook() -> None:
    for alert in _alerts():
        annotations = alert["annotations"]
        assert annotations["summary"], alert["alert"]
        assert annotations["description"], alert["alert"]
        url = annotations["runbook_url"]
        assert url.startswith(RUNBOOK_PREFIX), url
        assert (RUNBOOKS / url.removeprefix(RUNBOOK_PREFIX)).is_file(), f"missing runbook {url}"


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    tested = " ".join(path.read_text() for path in ALERT_TESTS)
    for alert in _alerts():
        name = alert["alert"]
        assert f"alertname: {name}" in tested, f"{name} has no promtool unit test"
    assert tested.count("exp_alerts: []") >= 5


def test_alert_metrics_are_known() -> None:
    known = series_names(agent_metrics.REGISTRY) | operator_series_names()
    for alert in _alerts():
        unknown = metric_names_in(alert["expr"]) - known - {"time"}
        assert not unknown, f"{alert['alert']} uses unknown metrics {unknown}"
