"""Finished Jobs that move a RagAgent forward get a full reconcile, not just a status refresh.

A status refresh only observes. When the pre-reindex backup, the re-index or
the restore Job finishes, the next step (start the re-index, report it, bring
the agent back) should happen now, not at the next resync. Pure: ``main`` asks
``is_step_job_finished`` and runs ``reconcile.reconcile_by_name``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ragagent_operator import backup_status, jobs
from ragagent_operator import constants as c


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
