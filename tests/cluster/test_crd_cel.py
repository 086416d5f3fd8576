"""CRD schemas are enforced by the real API server, including CEL validation rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import controlplane

pytestmark = pytest.mark.k8s

GROUP = "proof.ragagent.test"
RULE_MESSAGE = "replicas must not exceed maxReplicas"


def build_widget_crd() -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "required": ["replicas", "maxReplicas"],
        "properties": {"replicas": {"type": "integer"}, "maxReplicas": {"type": "integer"}},
        "x-kubernetes-validations": [
            {"rule": "self.replicas <= self.maxReplicas", "message": RULE_MESSAGE}
        ],
    }
    schema = {"type": "object", "properties": {"spec": spec_schema}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def build_widget(name: str, *, replicas: int, max_replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "maxReplicas": max_replicas},
    }


@pytest.fixture
def widget_crd(cluster: controlplane.ControlPlane) -> Iterator[str]:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(build_widget_crd()))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=30s", f"crd/widgets.{GROUP}")
    yield f"widgets.{GROUP}"
    cluster.kubectl("delete", "crd", f"widgets.{GROUP}", "--wait=false")


def test_cel_rule_rejects_a_bad_object_with_its_message(
    cluster: controlplane.ControlPlane, namespace: str, widget_crd: str
) -> None:
    bad = build_widget("too-many", replicas=5, max_replicas=3)

    result = cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", input=json.dumps(bad), check=False
    )

    assert result.returncode != 0
    assert "is invalid" in result.stderr
    assert RULE_MESSAGE in result.stderr


def test_cel_rule_accepts_a_good_object(
    cluster: controlplane.ControlPlane, namespace: str, widget_crd: str
) -> None:
    good = build_widget("fine", replicas=2, max_replicas=3)

    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(good))

    assert cluster.kubectl("get", widget_crd, "fine", "-n", namespace, "-o", "name").stdout.strip()
