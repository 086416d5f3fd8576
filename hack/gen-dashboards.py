#!/usr/bin/env python3
"""Generates the chart's Grafana dashboards (current JSON model) from the panel lists below.

Dashboards as code keep the two JSON files consistent (datasource variable, template variables,
layout, units) and reviewable as a short list of queries. Agent series are selected by the scrape
target's `namespace` and `service` (the RagAgent's Service, named after it); per-RagAgent series
from the operator carry `namespace` and `ragagent`.

Usage: hack/gen-dashboards.py [--check]   (--check writes nothing; exit 1 when out of date)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dashboard_json import Panel, Row, build_dashboard, build_templating

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "charts" / "ragagent-operator" / "dashboards"
AGENT = 'namespace=~"$namespace", service=~"$agent"'
OWNED = 'namespace=~"$namespace", ragagent=~"$agent"'
HPA = 'namespace=~"$namespace", horizontalpodautoscaler=~"$agent"'
RATE = "$__rate_interval"


def quantiles(metric: str, selector: str, by: str = "") -> tuple[tuple[str, str], ...]:
    """p50/p95/p99 of a histogram, optionally split by one more label."""
    group = f"le, {by}" if by else "le"
    legend = f"p{{q}} {{{{{by}}}}}" if by else "p{q}"
    return tuple(
        (
            f"histogram_quantile({q / 100}, sum by ({group}) "
            f"(rate({metric}_bucket{{{selector}}}[{RATE}])))",
            legend.format(q=q),
        )
        for q in (50, 95, 99)
    )


def ratio_or_zero(numerator: str, denominator: str) -> str:
    """numerator / denominator that is 0 (not empty) when the denominator has data.

    A labelled counter has no series until its first increment, so a plain ratio would show
    "No data" on a healthy service; multiplying the denominator by 0 fills that gap honestly.
    """
    return f"(sum({numerator}) or sum({denominator}) * 0) / sum({denominator})"


def or_zero(expr: str, activity: str) -> str:
    """``expr``, or a single 0 series while ``activity`` (a rate) shows the service is working.

    Error and refusal counters have no series until their first increment; a healthy service
    should show "0", not "No data" (which looks like a broken scrape).
    """
    return f"{expr} or sum({activity}) * 0"


def _http(selector: str) -> str:
    return f"rate(ragagent_http_requests_total{{{selector}}}[{RATE}])"


OVERVIEW = (
    Row(
        "Traffic",
        (
            Panel(
                "Request rate",
                "HTTP requests per second by route template.",
                "reqps",
                ((f"sum by (route) ({_http(AGENT)})", "{{route}}"),),
            ),
            Panel(
                "Error rate",
                "Share of HTTP requests answered with a 5xx (and a 4xx) status.",
                "percentunit",
                (
                    (ratio_or_zero(_http(AGENT + ', status=~"5.."'), _http(AGENT)), "5xx"),
                    (ratio_or_zero(_http(AGENT + ', status=~"4.."'), _http(AGENT)), "4xx"),
                ),
            ),
            Panel(
                "Request latency",
                "p50, p95 and p99 of HTTP request latency (SLO: p95 under 2.5 s).",
                "s",
                quantiles("ragagent_http_request_duration_seconds", AGENT),
            ),
            Panel(
                "Chat latency by interface",
                "p95 of end-to-end chat latency (retrieve + answer) per interface.",
                "s",
                quantiles("ragagent_chat_duration_seconds", AGENT, "interface")[1:2],
            ),
        ),
    ),
    Row(
        "LLM",
        (
            Panel(
                "LLM latency",
                "p50, p95 and p99 of LLM call latency by model.",
                "s",
                quantiles("ragagent_llm_duration_seconds", AGENT, "model"),
            ),
            Panel(
                "LLM tokens",
                "Tokens per second sent to (in) and received from (out) the LLM.",
                "short",
                (
                    (
                        f"sum by (direction) (rate(ragagent_llm_tokens_total{{{AGENT}}}[{RATE}]))",
                        "{{direction}}",
                    ),
                ),
            ),
            Panel(
                "LLM errors",
                "LLM errors per second by kind (timeout, rate_limited = provider 429, server, "
                "circuit_open, other).",
                "short",
                (
                    (
                        or_zero(
                            f"sum by (kind) (rate(ragagent_llm_errors_total{{{AGENT}}}[{RATE}]))",
                            f"rate(ragagent_llm_duration_seconds_count{{{AGENT}}}[{RATE}])",
                        ),
                        "{{kind}}",
                    ),
                ),
            ),
        ),
    ),
    Row(
        "Retrieval",
        (
            Panel(
                "Retrieval latency",
                "p50, p95 and p99 of hybrid retrieval latency (query embedding excluded).",
                "s",
                quantiles("ragagent_retrieval_duration_seconds", AGENT),
            ),
            Panel(
                "Empty retrievals",
                "Share of retrievals that found no chunk: questions the knowledge cannot answer.",
                "percentunit",
                (
                    (
                        f"sum(rate(ragagent_retrieval_empty_total{{{AGENT}}}[{RATE}])) / "
                        f"sum(rate(ragagent_retrievals_total{{{AGENT}}}[{RATE}]))",
                        "empty",
                    ),
                ),
            ),
        ),
    ),
    Row(
        "Sessions and limits",
        (
            Panel(
                "Active WebSockets",
                "Open chat WebSockets across the agent's pods.",
                "short",
                ((f"sum(ragagent_websockets_active{{{AGENT}}})", "open"),),
            ),
            Panel(
                "Rate-limited requests",
                "Requests refused per second by a rate limit or token budget, by scope and kind.",
                "reqps",
                (
                    (
                        or_zero(
                            f"sum by (scope, kind) "
                            f"(rate(ragagent_rate_limited_total{{{AGENT}}}[{RATE}]))",
                            _http(AGENT),
                        ),
                        "{{scope}} {{kind}}",
                    ),
                ),
            ),
        ),
    ),
    Row(
        "Capacity and backups",
        (
            Panel(
                "Replicas and autoscaling bounds",
                "Ready and desired replicas (from the operator) against the HPA's min and max "
                "(from kube-state-metrics).",
                "short",
                (
                    (f"sum(ragagent_operator_agent_ready_replicas{{{OWNED}}})", "ready"),
                    (f"sum(ragagent_operator_agent_desired_replicas{{{OWNED}}})", "desired"),
                    (f"sum(kube_horizontalpodautoscaler_spec_min_replicas{{{HPA}}})", "HPA min"),
                    (f"sum(kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}})", "HPA max"),
                ),
            ),
            Panel(
                "Backup age",
                "Time since the last successful backup, per RagAgent (alert at 26 h).",
                "s",
                (
                    (
                        f"time() - ragagent_operator_last_backup_timestamp_seconds{{{OWNED}}}",
                        "{{namespace}}/{{ragagent}}",
                    ),
                ),
                kind="stat",
            ),
        ),
    ),
)


def _op_rate(metric: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}[{RATE}]))"


OPERATOR = (
    Row(
        "Reconciles",
        (
            Panel(
                "Reconciles",
                "Whole reconciles per second by trigger (create, update, resume, timer) and "
                "result.",
                "ops",
                (
                    (
                        _op_rate("ragagent_operator_reconciles_total", "trigger, result"),
                        "{{trigger}} {{result}}",
                    ),
                ),
            ),
            Panel(
                "Reconcile duration",
                "p50, p95 and p99 duration of a whole reconcile.",
                "s",
                quantiles("ragagent_operator_reconcile_duration_seconds", ""),
            ),
            Panel(
                "Watched RagAgents",
                "RagAgents the active replica reconciles (a standby replica reports 0).",
                "short",
                (("max(ragagent_operator_watched_ragagents)", "RagAgents"),),
            ),
            Panel(
                "API requests by verb",
                "Requests the operator sends to the API server; a quiet cluster should show no "
                "writes (patch, create, delete) at steady state.",
                "reqps",
                ((_op_rate("ragagent_operator_api_requests_total", "verb"), "{{verb}}"),),
            ),
        ),
    ),
    Row(
        "Steps",
        (
            Panel(
                "Steps run by step",
                "Reconcile steps run per second, by step.",
                "ops",
                ((_op_rate("ragagent_operator_step_duration_seconds_count", "step"), "{{step}}"),),
            ),
            Panel(
                "Step errors by step",
                "Failed reconcile steps per second; the RagAgent's conditions name the cause.",
                "ops",
                (
                    (
                        _op_rate("ragagent_operator_step_errors_total", "step")
                        + " or "
                        + _op_rate("ragagent_operator_step_duration_seconds_count", "step")
                        + " * 0",
                        "{{step}}",
                    ),
                ),
            ),
            Panel(
                "Step duration by step",
                "p95 duration of each reconcile step.",
                "s",
                quantiles("ragagent_operator_step_duration_seconds", "", "step")[1:2],
            ),
        ),
    ),
    Row(
        "RagAgents",
        (
            Panel(
                "Ready replicas per RagAgent",
                "Ready replicas of each RagAgent's Deployment, as the operator last saw them.",
                "short",
                (
                    (
                        f"ragagent_operator_agent_ready_replicas{{{OWNED}}}",
                        "{{namespace}}/{{ragagent}}",
                    ),
                ),
            ),
            Panel(
                "Last backup succeeded",
                "1 when the last backup of the RagAgent succeeded, 0 when it failed.",
                "bool_yes_no",
                (
                    (
                        f"ragagent_operator_backup_success{{{OWNED}}}",
                        "{{namespace}}/{{ragagent}}",
                    ),
                ),
                kind="stat",
            ),
        ),
    ),
)


def build_all() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model."""
    overview = build_templating(
        "label_values(ragagent_build_info, namespace)",
        'label_values(ragagent_build_info{namespace=~"$namespace"}, service)',
    )
    operator = build_templating(
        "label_values(ragagent_operator_agent_desired_replicas, namespace)",
        'label_values(ragagent_operator_agent_desired_replicas{namespace=~"$namespace"}, ragagent)',
    )
    return {
        "ragagent-overview.json": build_dashboard(
            "ragagent-overview", "RagAgent overview", OVERVIEW, overview
        ),
        "ragagent-operator.json": build_dashboard(
            "ragagent-operator", "RagAgent operator", OPERATOR, operator
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, dashboard in build_all().items():
        path = OUT_DIR / name
        content = json.dumps(dashboard, indent=2) + "\n"
        if path.exists() and path.read_text() == content:
            continue
        stale.append(str(path))
        if not args.check:
            path.write_text(content)
    if args.check and stale:
        sys.stderr.write(f"out of date: {', '.join(stale)}; run hack/gen-dashboards.py\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
