"""Which reconcile steps wait for which: the rest run concurrently."""

from __future__ import annotations

from ragagent_operator import reconcile, steps


def test_the_deployment_waits_for_the_hashes_it_renders_and_ingest_for_reindex() -> None:
    waits = reconcile.build_waits(["secrets", "configmap", "deployment", "reindex", "ingest"])
    assert waits["deployment"] == {"secrets", "configmap"}
    assert waits["ingest"] == {"reindex"}
    assert waits["secrets"] == set()
    assert waits["reindex"] == set()


def test_a_barrier_follows_all_earlier_steps_and_precedes_all_later_ones() -> None:
    waits = reconcile.build_waits(["serviceaccount", "secrets", "restore", "service", "pdb"])
    assert waits["restore"] == {"serviceaccount", "secrets"}
    assert waits["service"] == {"restore"}
    assert waits["pdb"] == {"restore"}
    assert waits["serviceaccount"] == set()


def test_needs_on_steps_that_are_not_listed_are_ignored() -> None:
    assert reconcile.build_waits(["deployment"]) == {"deployment": set()}


def test_every_step_of_the_real_list_can_start() -> None:
    """No step waits for itself or for a step listed after it (that would deadlock)."""
    names = [name for name, _ in steps.STEPS]
    waits = reconcile.build_waits(names)
    for index, name in enumerate(names):
        assert waits[name] <= set(names[:index]), name


def _agent(generation: int, status: dict[str, object] | None = None) -> dict[str, object]:
    return {"metadata": {"name": "docs", "generation": generation}, "status": status or {}}


def _reconciled(observed: int, ok: str = "True") -> dict[str, object]:
    conditions = [{"type": "Ready", "status": "False"}, {"type": "Reconciled", "status": ok}]
    return {"observedGeneration": observed, "conditions": conditions}


def test_a_ragagent_without_status_is_created_and_a_new_generation_updated() -> None:
    assert reconcile.trigger_for(_agent(1), None) == "create"
    assert reconcile.trigger_for(_agent(2, _reconciled(1)), 1) == "update"
    assert reconcile.trigger_for(_agent(2, _reconciled(1)), None) == "update"


def test_a_ragagent_without_status_that_may_have_children_is_updated_not_created() -> None:
    """A "create" reads no child. After a reconcile that made children but failed before
    its status (an API server going away), a spec change must read them, or the children
    the new spec drops (the ingest Job of the old knowledge) stay until the resync."""
    assert reconcile.trigger_for(_agent(2), 1) == "update"
    assert reconcile.trigger_for(_agent(2), None) == "update"  # maybe another process's


def test_events_of_a_handled_generation_need_no_reconcile() -> None:
    """Our own status patch comes back as an event: nothing to do."""
    assert reconcile.trigger_for(_agent(1), 1) is None
    assert reconcile.trigger_for(_agent(3, _reconciled(3)), 3) is None
    assert reconcile.trigger_for(_agent(3, _reconciled(3, ok="False")), 3) is None


def test_after_a_restart_only_unfinished_ragagents_are_reconciled() -> None:
    assert reconcile.trigger_for(_agent(3, _reconciled(3)), None) is None
    assert reconcile.trigger_for(_agent(3, _reconciled(3, ok="False")), None) == "resume"
