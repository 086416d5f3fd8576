"""Pure pieces of the reconciler: the skip-write comparison, conditions, generated keys."""

from __future__ import annotations

import pytest

from ragagent_operator import constants as c
from ragagent_operator import k8s
from ragagent_operator.conditions import (
    Condition,
    Type,
    build_condition,
    build_ready,
    merge_conditions,
    transitions,
)
from ragagent_operator.steps import secrets


def _deployment(**spec: object) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "docs", "namespace": "team"},
        "spec": spec,
    }


def test_live_object_with_server_defaults_matches_desired() -> None:
    desired = k8s.with_spec_hash(
        _deployment(replicas=2, template={"spec": {"containers": [{"name": "a"}]}})
    )
    live = {
        **desired,
        "metadata": {**desired["metadata"], "uid": "x", "resourceVersion": "7"},
        "spec": {
            "replicas": 2,
            "strategy": {},
            "template": {"spec": {"containers": [{"name": "a", "imagePullPolicy": "Always"}]}},
        },
        "status": {"replicas": 2},
    }
    assert k8s.matches(desired, live)


def test_hand_made_drift_is_detected() -> None:
    desired = k8s.with_spec_hash(_deployment(replicas=2))
    drifted = {**desired, "spec": {"replicas": 5}}
    assert not k8s.matches(desired, drifted)
    assert not k8s.matches(desired, None)


def test_a_field_removed_from_the_spec_changes_the_hash() -> None:
    with_selector = k8s.with_spec_hash(_deployment(replicas=2, nodeSelector={"a": "b"}))
    without = k8s.with_spec_hash(_deployment(replicas=2))
    assert not k8s.matches(without, with_selector)


def test_quantities_compare_by_value_and_empty_values_match_absent_fields() -> None:
    assert k8s.is_subset({"cpu": "0.5", "egress": []}, {"cpu": "500m"})
    assert not k8s.is_subset({"cpu": "1"}, {"cpu": "500m"})
    assert not k8s.is_subset({"ports": [1, 2]}, {"ports": [1]})


def test_replica_ownership_is_read_from_managed_fields() -> None:
    live = {
        "metadata": {
            "managedFields": [
                {
                    "manager": c.FIELD_MANAGER,
                    "operation": "Apply",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}},
                },
            ]
        }
    }
    assert k8s.owns_replicas(live)
    assert not k8s.owns_replicas({"metadata": {"managedFields": []}})


def test_paths_for_core_and_group_kinds() -> None:
    assert k8s.path_for("v1", "Secret", "ns", "s") == "/api/v1/namespaces/ns/secrets/s"
    assert k8s.path_for("apps/v1", "Deployment", "ns") == "/apis/apps/v1/namespaces/ns/deployments"


def test_plurals_are_regular_and_only_known_kinds_have_paths() -> None:
    assert k8s.plural("networking.k8s.io/v1", "NetworkPolicy") == "networkpolicies"
    assert k8s.plural("kopf.dev/v1", "ClusterKopfPeering") == "clusterkopfpeerings"
    with pytest.raises(KeyError):
        k8s.path_for("v1", "Node", None)


def test_transition_time_is_kept_while_status_is_unchanged() -> None:
    old = merge_conditions(
        [], [build_condition(Type.READY, True, "AgentReady")], generation=1, now="t1"
    )
    same = merge_conditions(
        old, [build_condition(Type.READY, True, "AgentReady")], generation=2, now="t2"
    )
    flipped = merge_conditions(
        same, [build_condition(Type.READY, False, "Waiting")], generation=2, now="t3"
    )
    assert same[0]["lastTransitionTime"] == "t1"
    assert same[0]["observedGeneration"] == 2
    assert flipped[0]["lastTransitionTime"] == "t3"
    assert transitions(same, flipped) == flipped


def test_ready_needs_deployment_secrets_and_database() -> None:
    conditions: dict[str, Condition] = {
        kind: build_condition(kind, True, "Ok")
        for kind in (Type.DEPLOYMENT_AVAILABLE, Type.SECRETS_READY)
    }
    assert build_ready(conditions)["status"] == "False"
    assert "DatabaseReady" in build_ready(conditions)["message"]
    conditions["DatabaseReady"] = build_condition(Type.DATABASE_READY, True, "Ok")
    assert build_ready(conditions)["status"] == "True"


def test_generated_keys_are_only_added_never_regenerated() -> None:
    keys = [c.KEY_SECRET_KEY, c.KEY_DB_PASSWORD, c.KEY_DATABASE_URL]
    assert secrets._missing_keys(keys, set(keys)) == []
    assert secrets._missing_keys(keys, {c.KEY_DB_PASSWORD, c.KEY_DATABASE_URL}) == [
        c.KEY_SECRET_KEY
    ]
    pair = secrets._missing_keys(keys, {c.KEY_SECRET_KEY, c.KEY_DB_PASSWORD})
    assert pair == sorted([c.KEY_DB_PASSWORD, c.KEY_DATABASE_URL])


def test_only_secrets_the_controller_unseals_are_a_routine_wait() -> None:
    unsealed = {"docs-generated", "docs-llm"}
    assert secrets.build_secrets_condition(3, [], unsealed) == (
        True,
        "SecretsPresent",
        "3 referenced Secrets present",
    )
    waiting = secrets.build_secrets_condition(3, ["docs-generated"], unsealed)
    assert waiting[:2] == (False, "WaitingForUnseal")
    # The user's own Secret is missing: theirs to create, not a wait (and it gets an Event).
    for missing in (["docs-pg"], ["docs-generated", "docs-pg"]):
        status, reason, message = secrets.build_secrets_condition(3, missing, unsealed)
        assert (status, reason) == (False, "SecretNotFound")
        assert message == "missing Secrets: " + ", ".join(missing)
    # With plain Secrets (no controller) nothing is unsealed: every missing one is not found.
    assert secrets.build_secrets_condition(3, ["docs-generated"], set())[1] == "SecretNotFound"
