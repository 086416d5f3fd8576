"""The CronJob and Job controllers run, and KWOK finishes Job pods. (The HPA controller
scales on real CPU in the real node's journey: tests/e2e/test_e2e_autoscaling.py.)"""

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
