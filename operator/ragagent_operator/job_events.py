"""Finished Jobs that move a RagAgent forward get a full reconcile, not just a status refresh.

A status refresh only observes. When the pre-reindex backup, the re-index or
the restore Job finishes, the next step (start the re-index, report it, bring
the agent back) should happen now, not at the next resync. Pure: ``main`` asks
``is_step_job_finished`` and runs ``reconcile.reconcile_by_name``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ragagent_operator import backup_status
from ragagent_operator import constants as c

STEP_COMPONENTS = (c.COMPONENT_REINDEX, c.COMPONENT_RESTORE)


def is_step_job_finished(obj: Mapping[str, Any]) -> bool:
    """A finished re-index, restore or pre-reindex backup Job (scheduled backups are not)."""
    if obj.get("kind") != "Job":
        return False
    meta = obj.get("metadata") or {}
    component = (meta.get("labels") or {}).get(c.LABEL_COMPONENT)
    pre_reindex = c.Annotation.INDEX_HASH in (meta.get("annotations") or {})
    if component not in STEP_COMPONENTS and not (component == c.COMPONENT_BACKUP and pre_reindex):
        return False
    return backup_status.build_finished_job(obj) is not None
