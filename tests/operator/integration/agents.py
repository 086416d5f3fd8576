"""RagAgents on the real control plane: write one, patch it, and read its status and children.

Every helper takes the namespace; the RagAgent is "docs" unless a name is given.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from typing import Any

import yaml

from tests.operator.integration.harness import Operator, get_json, wait_for
from tests.support import controlplane

DATABASE_URL = "postgresql://u:p@db.example:5432/rag?sslmode=verify-full&sslrootcert=system"
# A managed database and plain Secrets: the operator writes every Secret itself, unsealed.
PLAIN_MANAGED: dict[str, Any] = {"database": {"managed": {}}, "secrets": {"provider": "kubernetes"}}


def rag(name: str, **spec: Any) -> str:
    """A RagAgent as YAML; its database is the Secret ``<name>-pg`` unless ``spec`` says."""
    spec.setdefault("database", {"external": {"secretRef": {"name": f"{name}-pg", "key": "url"}}})
    body = {
        "apiVersion": "ragagent.dev/v1alpha1",
        "kind": "RagAgent",
        "metadata": {"name": name},
        "spec": spec,
    }
    return yaml.safe_dump(body)


def dry_run(
    cluster: controlplane.ControlPlane, ns: str, **spec: Any
) -> subprocess.CompletedProcess[str]:
    """``kubectl apply --dry-run=server`` of a RagAgent with ``spec`` (a managed database
    unless it says): the API server's whole validation, schema and CEL, and nothing stored."""
    spec.setdefault("database", {"managed": {}})
    text = rag("spec-check", **spec)
    return cluster.kubectl(
        "apply", "--dry-run=server", "-n", ns, "-f", "-", input=text, check=False
    )


def apply(
    cluster: controlplane.ControlPlane, ns: str, text: str
) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("apply", "-n", ns, "-f", "-", input=text, check=False)


def patch_agent(
    cluster: controlplane.ControlPlane, ns: str, patch: dict[str, Any], name: str = "docs"
) -> None:
    """A merge patch of the RagAgent, as ``kubectl patch --type=merge`` sends it."""
    cluster.kubectl("patch", "ragagent", name, "-n", ns, "--type=merge", "-p", json.dumps(patch))


def db_secret(cluster: controlplane.ControlPlane, ns: str, name: str, url: str) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        # Labelled for RagAgent use: the operator refuses to reference any other Secret.
        "metadata": {"name": name, "labels": {"ragagent.dev/use": "true"}},
        "stringData": {"url": url},
    }
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(manifest))


def agent_status(cluster: controlplane.ControlPlane, ns: str, name: str = "docs") -> dict[str, Any]:
    """The RagAgent's status; ``{}`` while it has none (or the RagAgent is gone)."""
    return dict((get_json(cluster, "ragagent", name, "-n", ns) or {}).get("status") or {})


def condition(
    cluster: controlplane.ControlPlane, ns: str, kind: str, name: str = "docs"
) -> dict[str, Any]:
    """The RagAgent's condition of type ``kind``; ``{}`` while it has none."""
    conditions = agent_status(cluster, ns, name).get("conditions") or []
    return next((cond for cond in conditions if cond["type"] == kind), {})


def deployment(cluster: controlplane.ControlPlane, ns: str, name: str) -> dict[str, Any]:
    """The live Deployment, or ``{}`` while there is none."""
    return get_json(cluster, "deployment", name, "-n", ns) or {}


def ready_agent(
    cluster: controlplane.ControlPlane, ns: str, operator: Operator, name: str = "docs", **spec: Any
) -> None:
    agent_with_condition(cluster, ns, operator, "Ready", "True", name=name, timeout=90, **spec)


def agent_with_condition(
    cluster: controlplane.ControlPlane,
    ns: str,
    operator: Operator,
    kind: str,
    status: str,
    name: str = "docs",
    timeout: float = 60.0,
    **spec: Any,
) -> dict[str, Any]:
    """A new RagAgent (its database Secret present) once condition ``kind`` has ``status``;
    returns that condition."""
    db_secret(cluster, ns, f"{name}-pg", DATABASE_URL)
    assert apply(cluster, ns, rag(name, **spec)).returncode == 0

    def reached() -> dict[str, Any] | None:
        found = condition(cluster, ns, kind, name)
        return found if found.get("status") == status else None

    return dict(wait_for(reached, f"{name} {kind}={status}", operator=operator, timeout=timeout))


def wait_condition(
    cluster: controlplane.ControlPlane,
    ns: str,
    operator: Operator,
    kind: str,
    *,
    what: str | None = None,
    **wanted: str,
) -> dict[str, Any]:
    """The RagAgent's condition of type ``kind`` once its fields have the ``wanted`` values;
    ``what`` names the wait in a timeout's message."""

    def matching() -> dict[str, Any] | None:
        found = condition(cluster, ns, kind)
        return found if all(found.get(key) == value for key, value in wanted.items()) else None

    return dict(wait_for(matching, what or f"{kind} with {wanted}", operator=operator))


def events_of(cluster: controlplane.ControlPlane, ns: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events about RagAgent "docs"."""
    selector = "involvedObject.kind=RagAgent,involvedObject.name=docs"
    listed = get_json(cluster, "events", "-n", ns, "--field-selector", selector) or {"items": []}
    return [(e["type"], e["reason"], e["message"]) for e in listed["items"]]


def operator_metric(operator: Operator, name: str, match: str) -> Any:
    """``ragagent_operator_<name>`` from the operator's /metrics: summed, or by verb."""
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    prefix = f"ragagent_operator_{name}{{"
    lines = [line for line in text.splitlines() if line.startswith(prefix) and match in line]
    if name == "api_requests_total":
        by_verb: dict[str, float] = {}
        for line in lines:
            verb = re.findall(r'verb="([^"]*)"', line)[0]
            by_verb[verb] = by_verb.get(verb, 0.0) + float(line.rsplit(" ", 1)[1])
        return by_verb
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def wait_for_secret(
    cluster: controlplane.ControlPlane, ns: str, name: str, what: str, operator: Operator
) -> dict[str, Any]:
    """The Secret ``name`` once it exists (the operator wrote or unsealed it)."""
    found = wait_for(lambda: get_json(cluster, "secret", name, "-n", ns), what, operator=operator)
    return dict(found)
