"""No takeover: a RagAgent never writes (or, when deleted, garbage-collects) a namesake it does
not own. Server-side apply with force would otherwise adopt any object with a child's name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.operator.integration.agents import (
    DATABASE_URL,
    apply,
    condition,
    db_secret,
    events_of,
    rag,
)
from tests.operator.integration.harness import Operator, get_json, wait_for
from tests.support import controlplane

pytestmark = pytest.mark.k8s


def victim_deployment() -> dict[str, Any]:
    labels = {"app": "victim"}
    container = {"name": "web", "image": "victim:1"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "docs", "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def victim_secret() -> dict[str, Any]:
    """Named like the Secret the kubernetes provider generates for RagAgent "docs"."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "docs-generated"},
        "stringData": {"secret-key": "the victim's own value"},
    }


def available(cluster: controlplane.ControlPlane, ns: str, name: str) -> bool:
    live = get_json(cluster, "deployment", name, "-n", ns) or {}
    conditions = (live.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)


def snapshot(cluster: controlplane.ControlPlane, ns: str, kind: str, name: str) -> Any:
    live = get_json(cluster, kind, name, "-n", ns)
    assert live is not None, f"{kind}/{name} is gone"
    meta = live["metadata"]
    return (
        meta["resourceVersion"],
        meta.get("ownerReferences"),
        live.get("data"),
        meta.get("labels"),
    )


def test_namesakes_are_refused_reported_and_survive_the_ragagent(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    for victim in (victim_deployment(), victim_secret()):
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(victim))
    # The namesake is Available (0 of 0): the RagAgent's status must not borrow that.
    wait_for(lambda: available(cluster, namespace, "docs"), "the victim Deployment Available")
    before = {kind: snapshot(cluster, namespace, kind, name)
              for kind, name in (("deployment", "docs"), ("secret", "docs-generated"))}  # fmt: skip
    db_secret(cluster, namespace, "docs-pg", DATABASE_URL)
    assert (
        apply(cluster, namespace, rag("docs", secrets={"provider": "kubernetes"})).returncode == 0
    )

    def conflicted() -> dict[str, Any] | None:
        found = condition(cluster, namespace, "Reconciled")
        both = "Deployment" in found.get("message", "") and "Secret" in found.get("message", "")
        return found if found.get("reason") == "ChildConflict" and both else None

    reconciled = wait_for(conflicted, "Reconciled=False/ChildConflict", operator=operator)
    assert f"Deployment {namespace}/docs" in reconciled["message"]
    assert f"Secret {namespace}/docs-generated" in reconciled["message"]
    deployment_available = condition(cluster, namespace, "DeploymentAvailable")
    assert deployment_available["status"] == "False", deployment_available
    assert deployment_available["reason"] == "ChildConflict"
    assert f"Deployment {namespace}/docs exists and is not owned" in deployment_available["message"]
    assert condition(cluster, namespace, "Ready")["status"] == "False"
    warnings = [e for e in events_of(cluster, namespace) if e[:2] == ("Warning", "ChildConflict")]
    assert warnings
    assert f"Secret {namespace}/docs-generated" in warnings[0][2]
    # The operator made its other children, so it did reconcile: it only left the namesakes.
    assert get_json(cluster, "configmap", "docs-config", "-n", namespace) is not None
    for kind, name in (("deployment", "docs"), ("secret", "docs-generated")):
        assert snapshot(cluster, namespace, kind, name) == before[kind], f"{kind}/{name} changed"

    cluster.kubectl("delete", "ragagent", "docs", "-n", namespace)
    gone = lambda: get_json(cluster, "configmap", "docs-config", "-n", namespace) is None  # noqa: E731
    wait_for(gone, "the RagAgent's own children garbage-collected", timeout=90)
    for kind, name in (("deployment", "docs"), ("secret", "docs-generated")):
        assert snapshot(cluster, namespace, kind, name) == before[kind], f"{kind}/{name} changed"


def victim_service() -> dict[str, Any]:
    """Named like the agent's Service, selecting someone else's pods."""
    port = {"name": "web", "port": 80, "targetPort": 8080}
    spec = {"selector": {"app": "victim"}, "ports": [port]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "docs"}, "spec": spec}


def victim_service_account() -> dict[str, Any]:
    """Named like the agent's ServiceAccount, with a token mount the agent's would turn off."""
    meta = {"name": "docs", "labels": {"app": "victim"}}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta,
            "automountServiceAccountToken": True}  # fmt: skip


def test_service_and_service_account_namesakes_are_refused_and_survive_the_ragagent(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    victims = {"service": victim_service(), "serviceaccount": victim_service_account()}
    for victim in victims.values():
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(victim))
    before = {kind: snapshot(cluster, namespace, kind, "docs") for kind in victims}
    db_secret(cluster, namespace, "docs-pg", DATABASE_URL)
    assert apply(cluster, namespace, rag("docs")).returncode == 0

    def conflicted() -> dict[str, Any] | None:
        found = condition(cluster, namespace, "Reconciled")
        message = found.get("message", "")
        named = f"Service {namespace}/docs" in message
        named = named and f"ServiceAccount {namespace}/docs" in message
        return found if found.get("reason") == "ChildConflict" and named else None

    reconciled = wait_for(conflicted, "Reconciled=False/ChildConflict", operator=operator)
    assert reconciled["status"] == "False"
    warnings = [e for e in events_of(cluster, namespace) if e[:2] == ("Warning", "ChildConflict")]
    assert any(f"Service {namespace}/docs" in message for *_, message in warnings), warnings
    # It reconciled the rest: the ConfigMap is its own.
    assert get_json(cluster, "configmap", "docs-config", "-n", namespace) is not None
    for kind in victims:
        assert snapshot(cluster, namespace, kind, "docs") == before[kind], kind

    cluster.kubectl("delete", "ragagent", "docs", "-n", namespace)
    gone = lambda: get_json(cluster, "configmap", "docs-config", "-n", namespace) is None  # noqa: E731
    wait_for(gone, "the RagAgent's own children garbage-collected", timeout=90)
    for kind in victims:
        assert snapshot(cluster, namespace, kind, "docs") == before[kind], kind


def ingest_job(cluster: controlplane.ControlPlane, ns: str) -> dict[str, Any] | None:
    listed = get_json(cluster, "jobs", "-n", ns, "-l", "app.kubernetes.io/component=ingest")
    items = (listed or {}).get("items") or []
    return items[0] if items else None


def test_an_ingest_job_the_ragagent_does_not_own_is_refused_not_taken_for_its_own(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    """A Job with the ingest Job's name and labels but not the RagAgent's owner reference (the
    test removes it) is a namesake. The operator used to find it by its labels and name and
    count it as its own Job, so another's pod report would have stood for the knowledge's
    sync; a deleted namesake's Job, left by the garbage collector, was not taken over."""
    cluster.kubectl("create", "configmap", "faq", "-n", namespace, "--from-literal=a.md=# One")
    cluster.kubectl("label", "configmap", "faq", "-n", namespace, "ragagent.dev/use=true")
    db_secret(cluster, namespace, "docs-pg", DATABASE_URL)
    knowledge = {"sources": [{"configMap": {"name": "faq"}}]}
    plain = {"provider": "kubernetes"}
    written = apply(cluster, namespace, rag("docs", knowledge=knowledge, secrets=plain))
    assert written.returncode == 0
    job = wait_for(lambda: ingest_job(cluster, namespace), "the ingest Job", operator=operator)
    name = job["metadata"]["name"]
    orphan = json.dumps([{"op": "remove", "path": "/metadata/ownerReferences"}])
    cluster.kubectl("patch", "job", name, "-n", namespace, "--type=json", "-p", orphan)

    def refused() -> dict[str, Any] | None:
        found = condition(cluster, namespace, "Reconciled")
        return found if found.get("reason") == "ChildConflict" else None

    # The periodic resync (3 s here) lists the Jobs again and meets the namesake.
    reconciled = wait_for(refused, "Reconciled=False/ChildConflict", operator=operator)
    assert reconciled["status"] == "False"
    assert f"Job {namespace}/{name}" in reconciled["message"]
