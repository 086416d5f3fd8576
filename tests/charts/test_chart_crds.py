"""The RagAgent CRD template (templates/crd-ragagents.yaml), rendered by `helm template`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.charts.chart_helpers import (
    CHART,
    REPO_ROOT,
    find,
    of_kind,
    remove_crds_values,
    render,
)

CRD_NAME = "ragagents.ragagent.dev"
KEEP = "helm.sh/resource-policy"


def ragagent_crds(*sets: str) -> list[dict[str, Any]]:
    crds = of_kind(render(*sets), "CustomResourceDefinition")
    return [crd for crd in crds if crd["metadata"]["name"] == CRD_NAME]


def test_crd_is_the_generated_one_with_the_release_labels() -> None:
    crd = find(render(), "CustomResourceDefinition", CRD_NAME)
    source = yaml.safe_load(
        (REPO_ROOT / "manifests" / "crd" / "ragagent.dev_ragagents.yaml").read_text()
    )
    assert {k: v for k, v in crd.items() if k != "metadata"} == {
        k: v for k, v in source.items() if k != "metadata"
    }
    assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert crd["metadata"]["labels"]["app.kubernetes.io/instance"] == "rel"


def test_crd_is_kept_on_uninstall_by_default() -> None:
    (crd,) = ragagent_crds()
    assert crd["metadata"]["annotations"] == {KEEP: "keep"}


def test_crd_keep_can_be_turned_off() -> None:
    (crd,) = ragagent_crds("crds.keep=false")
    assert KEEP not in (crd["metadata"].get("annotations") or {})


def test_crd_is_left_out_when_something_else_manages_it() -> None:
    assert ragagent_crds("crds.enabled=false") == []


def test_crd_defaults_hold_for_values_without_a_crds_section(tmp_path: Path) -> None:
    """`helm upgrade --reuse-values` from a chart that had no `crds` values renders with the
    old release's values only: the CRD must still be rendered, and kept."""
    chart = tmp_path / CHART.name
    shutil.copytree(CHART, chart)
    remove_crds_values(chart)
    (crd,) = [
        m
        for m in of_kind(render(chart=chart), "CustomResourceDefinition")
        if m["metadata"]["name"] == CRD_NAME
    ]
    assert crd["metadata"]["annotations"] == {KEEP: "keep"}
