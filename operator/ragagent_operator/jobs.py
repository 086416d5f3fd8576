"""The one-shot Jobs the operator runs, in one table.

Each row names a Job's component label (its pods' labels, its NetworkPolicy
``<name>-<component>`` and ``render.networkpolicy.POD_NEEDS``), the condition
that reports it in the status (its transitions become Events), whether its
finishing moves the RagAgent to its next step, and whether a CronJob starts it.
A new kind of Job is added here once and every user follows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from ragagent_operator import conditions
from ragagent_operator import constants as c


class Advances(enum.Enum):
    """When a finished Job of this kind runs a full reconcile rather than a status refresh."""

    ALWAYS = "always"
    # Only the backup a re-index waits for (it carries the index-hash annotation);
    # a scheduled backup moves nothing forward.
    BEFORE_REINDEX = "before-reindex"
    NEVER = "never"


@dataclass(frozen=True)
class JobKind:
    component: str
    # None: reported outside the conditions.
    condition: conditions.Type | None
    advances: Advances
    # Started by a CronJob, which owns it: it names its RagAgent only by the instance label.
    scheduled: bool


JOBS: Final = (
    # The ingest Job of a content hash, and the runs of knowledge.refreshSchedule's CronJob.
    JobKind(c.COMPONENT_INGEST, conditions.Type.KNOWLEDGE_SYNCED, Advances.NEVER, scheduled=True),
    JobKind(c.COMPONENT_REINDEX, conditions.Type.REINDEXED, Advances.ALWAYS, scheduled=False),
    JobKind(
        c.COMPONENT_BACKUP, conditions.Type.BACKUP_READY, Advances.BEFORE_REINDEX, scheduled=True
    ),
    JobKind(c.COMPONENT_RESTORE, conditions.Type.RESTORED, Advances.ALWAYS, scheduled=False),
    # The usage CronJob's runs: the month's tokens for status.usage and BudgetExceeded.
    JobKind(c.COMPONENT_USAGE, conditions.Type.BUDGET_EXCEEDED, Advances.NEVER, scheduled=True),
)
COMPONENTS: Final = tuple(kind.component for kind in JOBS)
CONDITIONS: Final = tuple(kind.condition for kind in JOBS if kind.condition is not None)
_BY_COMPONENT: Final = {kind.component: kind for kind in JOBS}


def kind_of(component: str | None) -> JobKind | None:
    """The Job kind a ``app.kubernetes.io/component`` label names; None for other children."""
    return _BY_COMPONENT.get(component or "")
