"""Child events that need a full reconcile, not just a status refresh.

A status refresh only observes. When the pre-reindex backup, the re-index or
the restore Job finishes, the next step (start the re-index, report it, bring
the agent back) should happen now, not at the next resync. So should a deleted
Deployment or StatefulSet come back. Pure: ``main`` asks ``is_step_job_finished``
and ``is_workload_deleted`` and runs ``reconcile.reconcile_by_name``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ragagent_operator import backup_status, jobs
from ragagent_operator import constants as c

# Long-lived children: one deleted comes back now (a full reconcile is as safe at any time as
# a resync). Jobs are left out: the operator deletes superseded ones itself, and a finished
# one gone is no reason to run it again.
WORKLOADS = ("Deployment", "StatefulSet")


def is_workload_deleted(event_type: str | None, obj: Mapping[str, Any]) -> bool:
    """A Deployment or StatefulSet deleted (by hand, or by the garbage collector racing a
    re-created RagAgent's takeover) while its RagAgent may still live: without a reconcile
    the agent stayed without pods until the next resync (60 s by default)."""
    return event_type == "DELETED" and obj.get("kind") in WORKLOADS


def is_step_job_finished(obj: Mapping[str, Any]) -> bool:
    """A finished re-index, restore or pre-reindex backup Job (scheduled backups are not)."""
    if obj.get("kind") != "Job":
        return False
    meta = obj.get("metadata") or {}
    kind = jobs.kind_of((meta.get("labels") or {}).get(c.LABEL_COMPONENT))
    if kind is None or kind.advances is jobs.Advances.NEVER:
        return False
    before_reindex = c.Annotation.INDEX_HASH in (meta.get("annotations") or {})
    if kind.advances is jobs.Advances.BEFORE_REINDEX and not before_reindex:
        return False
    return backup_status.build_finished_job(obj) is not None
