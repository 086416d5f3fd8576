"""A finished backup Job for the chart tests, made through the API as the CronJob would.

The local control plane has no volume provisioner, so a real backup pod cannot start; the Job
is created suspended (no pods) and its terminal status is written through the status
subresource, which is all the operator reads to export the backup gauges.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.operator.integration.harness import get_json, job_from_cronjob
from tests.support import controlplane, processes

JOB_NAME = "docs-backup-manual"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_succeeded_status(now: datetime) -> dict[str, Any]:
    """A terminal, successful Job status the API server's validation accepts."""
    finished = _stamp(now)
    conditions = [
        {"type": kind, "status": "True", "reason": "ChartTest", "lastTransitionTime": finished}
        for kind in ("SuccessCriteriaMet", "Complete")
    ]
    return {"startTime": _stamp(now - timedelta(minutes=1)), "completionTime": finished,
            "succeeded": 1, "conditions": conditions}  # fmt: skip


def run_backup(cluster: controlplane.ControlPlane, ns: str, agent: str) -> None:
    """Enables backups on ``agent`` and records one successful backup Job for it."""
    patch = {"spec": {"backup": {"enabled": True}}}
    cluster.kubectl("patch", "ragagent", agent, "-n", ns, "--type=merge", "-p", json.dumps(patch))
    args = ("cronjob", f"{agent}-backup", "-n", ns)
    processes.wait_until("the backup CronJob", lambda: get_json(cluster, *args) is not None,
                         timeout=90)  # fmt: skip
    job = job_from_cronjob(get_json(cluster, *args), JOB_NAME)
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(job))
    status = json.dumps({"status": build_succeeded_status(datetime.now(UTC))})
    cluster.kubectl("patch", "job", JOB_NAME, "-n", ns, "--subresource=status", "--type=merge",
                    "-p", status)  # fmt: skip
