"""One set of alert rules: the chart's (on the operator's metrics) and the PrometheusRule the
operator renders for each RagAgent (on the agent's metrics), each alert in exactly one of them,
linking an existing runbook, and unit-tested with promtool firing and silent."""

from __future__ import annotations

import collections
import importlib
import re
import subprocess
from pathlib import Path
from typing import Any

import prometheus_client
import yaml

from ragagent.core import metrics as agent_metrics
from ragagent_operator.render import common, monitoring
from tests.charts import chart_metrics
from tests.charts.chart_helpers import CHART, REPO_ROOT

CHART_RULES = CHART / "alerts" / "ragagent.rules.yaml"
ALERT_TESTS = REPO_ROOT / "tests" / "charts" / "alerts"
AGENT_TESTS = ALERT_TESTS / "agent.test.yaml"
OPERATOR_TESTS = ALERT_TESTS / "operator.test.yaml"
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
RUNBOOK_PREFIX = "https://github.com/ragagent/ragagent/blob/main/docs/runbooks/"
# The RagAgents agent.test.yaml feeds series for, by (namespace, name), with their spec.
TEST_AGENTS: dict[tuple[str, str], dict[str, Any]] = {
    ("shop", "support"): {},
    ("shop", "docs"): {},
    ("lab", "idle"): {},
    ("lab", "calm"): {},
    ("lab", "parked"): {"replicas": 0},
}


def build_test_agent(namespace: str, name: str, **spec: Any) -> common.Agent:
    body = {"metadata": {"name": name, "namespace": namespace}, "spec": spec}
    spec.setdefault("database", {"managed": {}})
    return common.build_agent(body, default_image="ragagent:test")


def rules_of(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def chart_alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(CHART_RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def operator_alerts() -> list[dict[str, Any]]:
    """The alerts of one RagAgent that runs pods, as the operator renders them."""
    return rules_of(monitoring.build_prometheus_rule(build_test_agent("shop", "support")))


def write_agent_rule_files(directory: Path) -> list[Path]:
    """One rule file per test agent: the groups of the PrometheusRule the operator renders."""
    paths = []
    for (namespace, name), spec in TEST_AGENTS.items():
        rule = monitoring.build_prometheus_rule(build_test_agent(namespace, name, **spec))
        path = directory / f"{namespace}-{name}.rules.yaml"
        path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
        paths.append(path)
    return paths


def run_promtool(*args: str | Path) -> str:
    done = subprocess.run(
        [chart_metrics.promtool(), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def alert_cases(path: Path) -> list[dict[str, Any]]:
    return [
        case
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]


def test_no_alert_is_defined_both_in_the_chart_and_per_agent() -> None:
    names = [a["alert"] for a in chart_alerts() + operator_alerts()]
    twice = sorted(name for name, count in collections.Counter(names).items() if count > 1)
    assert twice == [], f"alerts defined twice (they would fire twice): {twice}"


def test_every_alert_has_annotations_and_an_existing_runbook() -> None:
    for alert in chart_alerts() + operator_alerts():
        annotations = alert["annotations"]
        assert annotations["summary"], alert["alert"]
        assert annotations["description"], alert["alert"]
        url = annotations["runbook_url"]
        assert url.startswith(RUNBOOK_PREFIX), url
        assert (RUNBOOKS / url.removeprefix(RUNBOOK_PREFIX)).is_file(), f"missing runbook {url}"


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    cases = alert_cases(AGENT_TESTS) + alert_cases(OPERATOR_TESTS)
    for alert in chart_alerts() + operator_alerts():
        name = alert["alert"]
        outcomes = {bool(c["exp_alerts"]) for c in cases if c["alertname"] == name}
        assert outcomes == {True, False}, f"{name} needs a promtool case firing and one silent"


def test_alert_metrics_are_known() -> None:
    known = chart_metrics.series_names(agent_metrics.REGISTRY)
    known |= chart_metrics.operator_series_names() | {"time", "up"}
    for alert in chart_alerts() + operator_alerts():
        unknown = chart_metrics.metric_names_in(alert["expr"]) - known
        assert not unknown, f"{alert['alert']} uses unknown metrics {unknown}"


def test_chart_rules_pass_promtool_check() -> None:
    run_promtool("check", "rules", CHART_RULES)


def test_chart_rules_pass_their_promtool_unit_tests() -> None:
    run_promtool("test", "rules", OPERATOR_TESTS)


def test_rendered_agent_rules_pass_promtool_check(tmp_path: Path) -> None:
    out = run_promtool("check", "rules", *write_agent_rule_files(tmp_path))
    assert "FAILED" not in out


def test_rendered_agent_rules_pass_their_promtool_unit_tests(tmp_path: Path) -> None:
    tests = yaml.safe_load(AGENT_TESTS.read_text())
    tests["rule_files"] = [p.name for p in write_agent_rule_files(tmp_path)]
    path = tmp_path / AGENT_TESTS.name
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    run_promtool("test", "rules", path)


def test_agent_tests_feed_only_agents_that_get_a_rendered_rule() -> None:
    """A series for an agent without a rendered rule would make its case pass vacuously."""
    text = AGENT_TESTS.read_text()
    pairs = set(re.findall(r'namespace="([^"]+)",service="([^"]+)"', text))
    assert pairs <= TEST_AGENTS.keys()


def test_an_agent_scaled_to_zero_gets_no_down_alert() -> None:
    def names(**spec: Any) -> set[str]:
        rule = monitoring.build_prometheus_rule(build_test_agent("shop", "docs", **spec))
        return {r["alert"] for r in rules_of(rule)}

    assert "RagAgentDown" in names()
    assert "RagAgentDown" not in names(replicas=0)
    assert "RagAgentDown" in names(replicas=0, autoscaling={"enabled": True})
    assert names() - names(replicas=0) == {"RagAgentDown"}


def test_agent_rules_select_only_their_own_agent() -> None:
    for alert in operator_alerts():
        selectors = re.findall(r"\{([^}]*)\}", alert["expr"])
        assert selectors, alert["alert"]
        for selector in selectors:
            assert selector.startswith('namespace="shop",service="support"'), alert["expr"]


def test_operator_gauges_carry_the_labels_the_alert_tests_use() -> None:
    """The promtool tests' input series are labelled exactly as the operator labels them."""
    metrics = importlib.import_module("ragagent_operator.metrics")
    found = [g for g in vars(metrics).values() if isinstance(g, prometheus_client.Gauge)]
    gauges = {g._name: tuple(g._labelnames) for g in found}
    used: dict[str, set[tuple[str, ...]]] = {}
    for path in (AGENT_TESTS, OPERATOR_TESTS):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for item in test["input_series"]:
                name, _, labels = item["series"].partition("{")
                keys = tuple(sorted(re.findall(r'(\w+)="', labels)))
                used.setdefault(name, set()).add(keys)
    for name in chart_metrics.OPERATOR_REQUESTED_METRICS:
        assert used.get(name), f"no promtool test feeds {name}"
        assert used[name] == {tuple(sorted(gauges[name]))}, name
