"""Which reconcile steps wait for which: the rest run concurrently."""

from __future__ import annotations

from ragagent_operator import reconcile


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
    names = [name for name, _ in reconcile.STEPS]
    waits = reconcile.build_waits(names)
    for index, name in enumerate(names):
        assert waits[name] <= set(names[:index]), name
