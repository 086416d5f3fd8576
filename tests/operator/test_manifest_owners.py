"""Which owner controls a child (``manifest.controller_of``)."""

from __future__ import annotations

from typing import Any

from ragagent_operator import manifest


def child(*owners: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "docs", "namespace": "ns", "ownerReferences": list(owners)}}


def ref(uid: str, *, name: str = "docs", kind: str = "RagAgent", version: str = "v1alpha1",
        controller: bool = True) -> dict[str, Any]:  # fmt: skip
    return {"apiVersion": f"ragagent.dev/{version}", "kind": kind, "name": name, "uid": uid,
            "controller": controller}  # fmt: skip


def test_the_controller_is_the_owner_reference_marked_controller() -> None:
    other, ours = ref("u0", kind="ConfigMap", controller=False), ref("u1")

    assert manifest.controller_of(child(other, ours)) == ours
    assert manifest.controller_of(child(other)) is None
