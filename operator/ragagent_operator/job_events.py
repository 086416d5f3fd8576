"""Finished Jobs that move a RagAgent forward get a full reconcile, not just a status refresh.

A status refresh only observes. When the pre-reindex backup, the re-index or
the restore Job finishes, the next step (start the re-index, report it, bring
the agent back) should happen now, not at the next resync.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ragagent_operator import backup_status, k8s, reconcile
from ragagent_operator import constants as c
from ragagent_operator.config import OperatorSettings

log = logging.getLogger(__name__)
STEP_COMPONENTS = (c.COMPONENT_REINDEX, c.COMPONENT_RESTORE)


def is_step_job_finished(obj: Mapping[str, Any]) -> bool:
    """A finished re-index, restore or pre-reindex backup Job (scheduled backups are not)."""
    if obj.get("kind") != "Job":
        return False
    meta = obj.get("metadata") or {}
    component = (meta.get("labels") or {}).get(c.LABEL_COMPONENT)
    pre_reindex = c.ANNOTATION_INDEX_HASH in (meta.get("annotations") or {})
    if component not in STEP_COMPONENTS and not (component == c.COMPONENT_BACKUP and pre_reindex):
        return False
    return backup_status.build_finished_job(obj) is not None


async def reconcile_owner(
    api: k8s.Api, settings: OperatorSettings, namespace: str, name: str
) -> None:
    """Run the full reconcile of RagAgent ``namespace/name``; nothing when it is gone."""
    body = await k8s.get(api, c.API_VERSION, c.KIND, namespace, name)
    if body is None:
        return
    log.info("a step Job finished: reconciling %s/%s now", namespace, name)
    await reconcile.reconcile(api, settings, body, trigger="job")
