"""The CronJob, Job and HPA controllers run, and KWOK finishes Job pods."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import controlplane
from tests.support.processes import wait_until

pytestmark = pytest.mark.k8s


def build_cronjob(name: str) -> dict[str, Any]:
    container = {"name": "task", "image": "registry.invalid/task:1"}
    pod_spec = {"restartPolicy": "OnFailure", "containers": [container]}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {"spec": {"template": {"spec": pod_spec}}},
        },
    }


def build_hpa(name: str, target: str) -> dict[str, Any]:
    metric = {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
    }
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [metric],
        },
    }


def jsonpath(cluster: controlplane.ControlPlane, resource: str, namespace: str, path: str) -> str:
    return cluster.kubectl(
        "get", resource, "-n", namespace, "-o", f"jsonpath={path}", check=False
    ).stdout


@pytest.mark.slow
def test_cronjob_starts_a_job_whose_fake_pod_completes(
    cluster: controlplane.ControlPlane, namespace: str
) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(build_cronjob("tick")))

    # The schedule fires at the next full minute, so allow a little over one.
    def job_complete() -> bool:
        return "Complete" in jsonpath(
            cluster, "jobs", namespace, "{.items[*].status.conditions[*].type}"
        )

    wait_until("a completed Job from the CronJob", job_complete, timeout=100, interval=1)
    assert jsonpath(cluster, "cronjob/tick", namespace, "{.status.lastSuccessfulTime}")


def test_hpa_controller_evaluates_an_autoscaler(
    cluster: controlplane.ControlPlane, namespace: str
) -> None:
    cluster.kubectl(
        "create", "deployment", "scaled", "-n", namespace, "--image=registry.invalid/app:1"
    )
    cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", input=json.dumps(build_hpa("scaled", "scaled"))
    )

    # Without a metrics server the controller reports that it cannot get metrics: proof it ran.
    def evaluated() -> bool:
        return "AbleToScale" in jsonpath(
            cluster, "hpa/scaled", namespace, "{.status.conditions[*].type}"
        )

    wait_until("HPA status conditions", evaluated, timeout=60, interval=1)
