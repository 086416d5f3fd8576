"""Job pods on the real control plane, finished by hand.

Job pods that mount the backup volume never run here: its claim stays unbound (no
storage provisioner), so the Job controller's pod waits unscheduled. Tests write
that pod's status through the API, as a kubelet would (terminated container,
termination message), and the real Job controller then finishes the Job.
"""

from __future__ import annotations

import json
from typing import Any

from tests.operator.integration.harness import get_json
from tests.support import controlplane

FINISHED_AT = "2025-03-10T02:05:00Z"


def job_pod(
    cluster: controlplane.ControlPlane, ns: str, job: str, *, phase: str | None = None
) -> dict[str, Any] | None:
    """A pod of ``job`` (in ``phase``, when given); None while there is none."""
    listed = get_json(cluster, "pods", "-n", ns, "-l", f"batch.kubernetes.io/job-name={job}")
    items = (listed or {}).get("items") or []
    items = [pod for pod in items if phase is None or pod["status"].get("phase") == phase]
    return items[0] if items else None


def finish_pod(
    cluster: controlplane.ControlPlane,
    ns: str,
    pod: dict[str, Any],
    *,
    report: dict[str, Any],
    succeeded: bool | None = None,
) -> None:
    """What a kubelet reports for a finished container that left a termination message.

    ``succeeded`` None: as the report's ``result`` says (a backup or usage report)."""
    if succeeded is None:
        succeeded = report.get("result") == "succeeded"
    container = pod["spec"]["containers"][0]
    terminated = {
        "exitCode": 0 if succeeded else 1,
        "reason": "Completed" if succeeded else "Error",
        "message": json.dumps(report) + "\n",
        "startedAt": FINISHED_AT,
        "finishedAt": FINISHED_AT,
    }
    status = {
        "phase": "Succeeded" if succeeded else "Failed",
        "containerStatuses": [
            {
                "name": container["name"],
                "image": container["image"],
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {"terminated": terminated},
            }
        ],
    }
    cluster.kubectl(
        "patch", "pod", pod["metadata"]["name"], "-n", ns, "--subresource=status",
        "--type=merge", "-p", json.dumps({"status": status}),
    )  # fmt: skip
