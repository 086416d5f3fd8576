"""The one table of one-shot Job kinds drives the full-reconcile trigger, the owner lookup
and the status Events: each user follows a change to a row."""

from __future__ import annotations

from typing import Any

import pytest

from ragagent_operator import conditions, job_events, jobs, main
from ragagent_operator import constants as c
from ragagent_operator.steps import status

DONE = {"succeeded": 1, "completionTime": "2025-03-10T02:05:00Z"}


def finished_job(component: str, **annotations: str) -> dict[str, Any]:
    meta = {"labels": {c.LABEL_COMPONENT: component}, "annotations": annotations}
    return {"kind": "Job", "metadata": meta, "status": DONE}


@pytest.mark.parametrize("kind", jobs.JOBS, ids=lambda kind: kind.component)
def test_a_finished_job_runs_a_full_reconcile_as_its_row_says(kind: jobs.JobKind) -> None:
    plain = job_events.is_step_job_finished(finished_job(kind.component))
    marked = finished_job(kind.component, **{c.Annotation.INDEX_HASH: "abc"})
    assert plain is (kind.advances is jobs.Advances.ALWAYS)
    assert job_events.is_step_job_finished(marked) is (kind.advances is not jobs.Advances.NEVER)


@pytest.mark.parametrize("kind", jobs.JOBS, ids=lambda kind: kind.component)
def test_only_a_scheduled_job_names_its_owner_by_the_instance_label(kind: jobs.JobKind) -> None:
    labels = {c.LABEL_COMPONENT: kind.component, c.LABEL_INSTANCE: "docs"}
    assert main._owner_name([], labels) == ("docs" if kind.scheduled else None)
    controller = [{"kind": c.KIND, "name": "owner", "controller": True}]
    assert main._owner_name(controller, labels) == "owner"


def test_every_job_condition_is_a_status_event_and_other_children_are_no_job() -> None:
    assert set(jobs.CONDITIONS) <= set(status.EVENTFUL)
    assert conditions.Type.REINDEXED in status.EVENTFUL
    assert jobs.kind_of(c.COMPONENT_AGENT) is None
    assert jobs.kind_of(None) is None
    assert len(set(jobs.COMPONENTS)) == len(jobs.JOBS)


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_a_deleted_workload_runs_a_full_reconcile(kind: str) -> None:
    assert job_events.is_workload_deleted("DELETED", {"kind": kind})
    assert not job_events.is_workload_deleted("MODIFIED", {"kind": kind})


def test_a_deleted_job_only_refreshes_the_status() -> None:
    """The operator deletes superseded Jobs itself; one gone is no reason to run it again."""
    assert not job_events.is_workload_deleted("DELETED", {"kind": "Job"})
