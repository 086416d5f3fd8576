"""The translator's environment and command line follow the kubelet's rules (pure)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.support.podrun import containers, env, model

POD = model.PodIdentity(name="docs-abc", namespace="team", uid="u-1")


def build(container: dict[str, Any], cluster: model.Cluster | None = None) -> dict[str, str]:
    return env.build_env(container, cluster=cluster or model.Cluster(), pod=POD, sa="docs")


def secret(**values: str) -> dict[str, Any]:
    return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)-$(B)", "a-b"),
        ("$$(A)", "$(A)"),
        ("$(MISSING)", "$(MISSING)"),
        ("$(A", "$(A"),
        ("$A and $", "$A and $"),
        ("$$$(A)", "$a"),
        ("x$(A)y", "xay"),
    ],
)
def test_expansion_matches_kubernetes(text: str, expected: str) -> None:
    assert env.expand(text, {"A": "a", "B": "b"}) == expected


def test_env_from_sources_come_first_and_env_entries_override_them() -> None:
    cluster = model.Cluster(
        config_maps={"cfg": {"data": {"MODE": "cm", "ONLY_CM": "1"}}},
        secrets={"sec": secret(MODE="secret")},
    )
    result = build(
        {
            "envFrom": [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "sec"}}],
            "env": [{"name": "ONLY_CM", "value": "env"}],
        },
        cluster,
    )
    assert result == {"MODE": "secret", "ONLY_CM": "env"}


def test_env_from_prefix_is_prepended_and_invalid_names_are_skipped() -> None:
    cluster = model.Cluster(config_maps={"cfg": {"data": {"a.b": "1", "x=y": "2"}}})
    result = build({"envFrom": [{"prefix": "P_", "configMapRef": {"name": "cfg"}}]}, cluster)
    assert result == {"P_a.b": "1"}


def test_env_values_expand_against_variables_defined_before_them() -> None:
    result = build(
        {
            "env": [
                {"name": "HOST", "value": "db"},
                {"name": "URL", "value": "pg://$(HOST)/$(LATER)"},
                {"name": "LATER", "value": "x"},
            ]
        }
    )
    assert result["URL"] == "pg://db/$(LATER)"


def test_secret_key_ref_reads_base64_data_and_string_data() -> None:
    cluster = model.Cluster(secrets={"s": {**secret(a="one"), "stringData": {"b": "two"}}})
    refs = [
        {"name": name.upper(), "valueFrom": {"secretKeyRef": {"name": "s", "key": name}}}
        for name in ("a", "b")
    ]
    assert build({"env": refs}, cluster) == {"A": "one", "B": "two"}


def test_optional_references_that_are_missing_leave_the_variable_out() -> None:
    refs = [
        {
            "name": "A",
            "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}},
        },
        {
            "name": "B",
            "valueFrom": {"configMapKeyRef": {"name": "c", "key": "no", "optional": True}},
        },
    ]
    sources = [{"secretRef": {"name": "gone", "optional": True}}]
    cluster = model.Cluster(config_maps={"c": {"data": {}}})
    assert build({"env": refs, "envFrom": sources}, cluster) == {}


@pytest.mark.parametrize(
    "container",
    [
        {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]},
        {"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "no"}}}]},
        {"envFrom": [{"configMapRef": {"name": "gone"}}]},
    ],
)
def test_required_references_that_are_missing_refuse_to_start(container: dict[str, Any]) -> None:
    with pytest.raises(model.MissingReferenceError):
        build(container, model.Cluster(config_maps={"c": {"data": {}}}))


def test_field_refs_give_the_pod_identity_and_refuse_unknown_paths() -> None:
    refs = [
        {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
    ]
    assert build({"env": refs}) == {"NAME": "docs-abc", "NS": "team", "SA": "docs"}
    node = [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    with pytest.raises(model.UnsupportedFieldError):
        build({"env": node})


@pytest.mark.parametrize(
    "container",
    [
        {"env": [{"name": "A", "value": "1", "extra": True}]},
        {"env": [{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]},
        {"envFrom": [{"configMapRef": {"name": "c"}, "unknown": 1}]},
    ],
)
def test_unknown_env_fields_raise(container: dict[str, Any]) -> None:
    with pytest.raises(model.UnsupportedFieldError):
        build(container, model.Cluster(config_maps={"c": {"data": {}}}))


def test_the_kubernetes_service_variables_yield_to_the_containers_own() -> None:
    cluster = model.Cluster(api_server=("127.0.0.1", 6443))
    result = build({"env": [{"name": "KUBERNETES_SERVICE_PORT", "value": "1"}]}, cluster)
    assert result["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert result["KUBERNETES_SERVICE_PORT"] == "1"
    assert result["KUBERNETES_PORT"] == "tcp://127.0.0.1:6443"


def test_command_replaces_the_entrypoint_and_drops_the_images_cmd() -> None:
    command = containers.command_and_args({"command": ["ragagent"]}, {})
    assert command == containers.Command(['--entrypoint=["ragagent"]'], [])


def test_args_alone_keep_the_images_entrypoint() -> None:
    command = containers.command_and_args({"args": ["serve"], "command": []}, {})
    assert command == containers.Command([], ["serve"])


def test_command_and_args_expand_variables_from_the_environment() -> None:
    spec = {"command": ["sh", "-c"], "args": ["echo $(GREETING) $$(HOME)"]}
    command = containers.command_and_args(spec, {"GREETING": "hi"})
    assert command == containers.Command(['--entrypoint=["sh", "-c"]'], ["echo hi $(HOME)"])
