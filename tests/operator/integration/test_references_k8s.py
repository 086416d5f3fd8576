"""Edit rights on a RagAgent do not expose the namespace's Secrets and ConfigMaps: only those
labelled ragagent.dev/use=true may be referenced, and nothing that would read another is
written (no Deployment for an unlabelled Secret, no ingest Job for an unlabelled ConfigMap)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.operator.integration.agents import DATABASE_URL, apply, condition, rag
from tests.operator.integration.harness import Operator, get_json, wait_for
from tests.support import controlplane

pytestmark = pytest.mark.k8s
USE = "ragagent.dev/use=true"


def unlabelled_secret(cluster: controlplane.ControlPlane, ns: str, name: str) -> None:
    """A Secret the namespace owner never offered to RagAgents (an attacker's target)."""
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "stringData": {"url": DATABASE_URL}}  # fmt: skip
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(body))


def ingest_jobs(cluster: controlplane.ControlPlane, ns: str, kind: str = "jobs") -> list[Any]:
    selector = "app.kubernetes.io/component=ingest"
    return list(get_json(cluster, kind, "-n", ns, "-l", selector)["items"])


def reason_of(cluster: controlplane.ControlPlane, ns: str, kind: str, reason: str) -> Any:
    found = condition(cluster, ns, kind)
    return found if found.get("reason") == reason else None


REFUSED = "ReferenceNotAllowed"


def test_an_unlabelled_secret_is_refused_until_its_owner_labels_it(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    unlabelled_secret(cluster, namespace, "docs-pg")
    assert apply(cluster, namespace, rag("docs")).returncode == 0

    refused = wait_for(
        lambda: reason_of(cluster, namespace, "SecretsReady", "ReferenceNotAllowed"),
        "SecretsReady=False/ReferenceNotAllowed",
        operator=operator,
    )
    assert refused["status"] == "False"
    assert f"Secret {namespace}/docs-pg" in refused["message"]
    assert "ragagent.dev/use=true" in refused["message"]
    # The other children are made; the Deployment, whose pods would read the Secret, is not.
    assert get_json(cluster, "configmap", "docs-config", "-n", namespace) is not None
    assert get_json(cluster, "deployment", "docs", "-n", namespace) is None

    cluster.kubectl("label", "secret", "docs-pg", "-n", namespace, USE)
    wait_for(
        lambda: get_json(cluster, "deployment", "docs", "-n", namespace),
        "the Deployment once the Secret is labelled",
        operator=operator,
        timeout=90,
    )
    # The Deployment is written mid-reconcile and the conditions at its end: wait for them too.
    wait_for(
        lambda: condition(cluster, namespace, "SecretsReady").get("reason") != REFUSED,
        "SecretsReady no longer ReferenceNotAllowed",
        operator=operator,
    )


def test_an_unlabelled_knowledge_config_map_is_not_ingested(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    cluster.kubectl("create", "configmap", "faq", "-n", namespace, "--from-literal=a.md=# One")
    cluster.kubectl("create", "secret", "generic", "docs-pg", "-n", namespace,
                    f"--from-literal=url={DATABASE_URL}")  # fmt: skip
    cluster.kubectl("label", "secret", "docs-pg", "-n", namespace, USE)
    # With a refresh schedule too: its CronJob's pods would mount the ConfigMap as well.
    knowledge = {"sources": [{"configMap": {"name": "faq"}}], "refreshSchedule": "0 0 1 1 *"}
    assert apply(cluster, namespace, rag("docs", knowledge=knowledge)).returncode == 0

    refused = wait_for(
        lambda: reason_of(cluster, namespace, "Reconciled", "ReferenceNotAllowed"),
        "Reconciled=False/ReferenceNotAllowed",
        operator=operator,
    )
    assert f"ConfigMap {namespace}/faq" in refused["message"]
    assert ingest_jobs(cluster, namespace) == []
    assert ingest_jobs(cluster, namespace, "cronjobs") == []
    assert get_json(cluster, "deployment", "docs", "-n", namespace) is not None

    cluster.kubectl("label", "configmap", "faq", "-n", namespace, USE)
    wait_for(
        lambda: ingest_jobs(cluster, namespace),
        "an ingest Job once the ConfigMap is labelled",
        operator=operator,
        timeout=90,
    )
    assert ingest_jobs(cluster, namespace, "cronjobs")

    # Its owner takes the label back: the refresh CronJob, which would read it again, goes.
    cluster.kubectl("label", "configmap", "faq", "-n", namespace, "ragagent.dev/use-")
    wait_for(
        lambda: not ingest_jobs(cluster, namespace, "cronjobs"),
        "no refresh CronJob once the ConfigMap's label is removed",
        operator=operator,
        timeout=90,
    )
