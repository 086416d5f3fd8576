"""`helm upgrade` upgrades the RagAgent CRD, and `helm uninstall` keeps it (issue 13).

An older chart is the current one with a RagAgent CRD that lacks spec.topologySpreadConstraints,
shipped either as the template or, as chart 0.1.x did, in crds/ (which helm never upgrades).
These tests install and delete the cluster-wide CRD, which the session cluster's other tests
rely on, so they run on a control plane of their own.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.chart_cluster import SAMPLE, helm, run_helm
from tests.charts.chart_helpers import CHART, remove_crds_values
from tests.operator.integration.harness import get_json, wait_established
from tests.support import controlplane

pytestmark = [pytest.mark.k8s, pytest.mark.slow]
CRD = "ragagents.ragagent.dev"
CRD_FILE = "ragagent.dev_ragagents.yaml"
NEW_FIELD = "topologySpreadConstraints"
RELEASE, RELEASE_NS, AGENTS_NS = "ragagent-operator", "ragagent-system", "agents"


@pytest.fixture(scope="module")
def bare(cluster: controlplane.ControlPlane) -> Iterator[controlplane.ControlPlane]:
    """A control plane for these tests alone (``cluster`` first: it skips when tools lack)."""
    with controlplane.ControlPlane(sealed_secrets=False) as plane:
        for namespace in (RELEASE_NS, AGENTS_NS):
            plane.kubectl("create", "namespace", namespace)
        yield plane


@pytest.fixture
def plane(bare: controlplane.ControlPlane) -> Iterator[controlplane.ControlPlane]:
    """The bare control plane with no release and no RagAgent CRD, before and after a test."""
    _remove_release_and_crd(bare)
    yield bare
    _remove_release_and_crd(bare)


def _remove_release_and_crd(plane: controlplane.ControlPlane) -> None:
    run_helm(plane, plane.workdir, "uninstall", RELEASE, "-n", RELEASE_NS, "--ignore-not-found")
    plane.kubectl("delete", "crd", CRD, "--ignore-not-found", "--wait=true")


def spec_fields(crd: dict[str, Any]) -> dict[str, Any]:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    fields: dict[str, Any] = schema["properties"]["spec"]["properties"]
    return fields


def build_older_chart(directory: Path, *, in_crds_folder: bool) -> Path:
    """A copy of the chart whose RagAgent CRD lacks NEW_FIELD; with ``in_crds_folder`` the CRD
    ships in crds/ and not as a template, and the values have no `crds` section, as in 0.1.x."""
    chart = directory / CHART.name
    shutil.copytree(CHART, chart)
    source = chart / "files" / "crds" / CRD_FILE
    crd = yaml.safe_load(source.read_text())
    del spec_fields(crd)[NEW_FIELD]
    if in_crds_folder:
        remove_crds_values(chart)
        source.unlink()
        (chart / "templates" / "crd-ragagents.yaml").unlink()
        source = chart / "crds" / CRD_FILE
    source.write_text(yaml.safe_dump(crd, sort_keys=False))
    return chart


def live_crd(plane: controlplane.ControlPlane) -> dict[str, Any]:
    crd: dict[str, Any] | None = get_json(plane, "crd", CRD)
    assert crd is not None, f"CRD {CRD} is gone"
    return crd


def install(plane: controlplane.ControlPlane, home: Path, chart: Path, *args: str) -> None:
    helm(plane, home, "install", RELEASE, str(chart), "-n", RELEASE_NS, *args)
    wait_established(plane, (CRD,))
    assert NEW_FIELD not in spec_fields(live_crd(plane))
    plane.kubectl("apply", "-n", AGENTS_NS, "-f", str(SAMPLE))


def upgrade(plane: controlplane.ControlPlane, home: Path, *args: str) -> None:
    helm(plane, home, "upgrade", RELEASE, str(CHART), "-n", RELEASE_NS, *args)


def assert_upgraded(plane: controlplane.ControlPlane) -> None:
    """The live CRD has the new field, and the API server keeps it in a RagAgent now (the
    older schema would have pruned it)."""
    crd = live_crd(plane)
    assert NEW_FIELD in spec_fields(crd)
    assert crd["metadata"]["annotations"]["meta.helm.sh/release-name"] == RELEASE
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}]
    patch = json.dumps({"spec": {NEW_FIELD: spread}})
    plane.kubectl("patch", "ragagent", "docs", "-n", AGENTS_NS, "--type=merge", "-p", patch)
    agent = get_json(plane, "ragagent", "docs", "-n", AGENTS_NS)
    assert agent["spec"][NEW_FIELD] == spread


def test_upgrade_applies_the_new_crd_and_uninstall_keeps_it_unless_told(
    plane: controlplane.ControlPlane, tmp_path: Path
) -> None:
    install(plane, tmp_path, build_older_chart(tmp_path, in_crds_folder=False))
    upgrade(plane, tmp_path)
    assert_upgraded(plane)
    helm(plane, tmp_path, "uninstall", RELEASE, "-n", RELEASE_NS, "--wait")
    assert live_crd(plane)["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert get_json(plane, "ragagent", "docs", "-n", AGENTS_NS) is not None
    # The same release takes the kept CRD back; without keep, uninstall deletes it.
    helm(plane, tmp_path, "install", RELEASE, str(CHART), "-n", RELEASE_NS)
    upgrade(plane, tmp_path, "--reuse-values", "--set", "crds.keep=false")
    helm(plane, tmp_path, "uninstall", RELEASE, "-n", RELEASE_NS, "--wait")
    plane.kubectl("wait", "--for=delete", f"crd/{CRD}", "--timeout=60s")


@pytest.mark.parametrize("adopt", ["--take-ownership", "kubectl label and annotate"])
def test_upgrade_from_a_chart_with_the_crd_in_crds_adopts_and_upgrades_it(
    plane: controlplane.ControlPlane, tmp_path: Path, adopt: str
) -> None:
    install(plane, tmp_path, build_older_chart(tmp_path, in_crds_folder=True))
    refused = run_helm(plane, tmp_path, "upgrade", RELEASE, str(CHART), "-n", RELEASE_NS)
    assert refused.returncode != 0
    assert "invalid ownership metadata" in refused.stderr
    if adopt == "--take-ownership":
        # --reuse-values: the older release's values have no `crds` section at all.
        upgrade(plane, tmp_path, "--reuse-values", "--take-ownership")
    else:
        plane.kubectl("label", "crd", CRD, "app.kubernetes.io/managed-by=Helm")
        owner = (
            f"meta.helm.sh/release-name={RELEASE}",
            f"meta.helm.sh/release-namespace={RELEASE_NS}",
        )
        plane.kubectl("annotate", "crd", CRD, *owner)
        upgrade(plane, tmp_path)
    assert_upgraded(plane)
    upgrade(plane, tmp_path, "--reuse-values", "--set", "logLevel=DEBUG")  # no flag needed now
    helm(plane, tmp_path, "uninstall", RELEASE, "-n", RELEASE_NS, "--wait")
    assert NEW_FIELD in spec_fields(live_crd(plane))
    assert get_json(plane, "ragagent", "docs", "-n", AGENTS_NS) is not None


def test_a_crd_kubectl_applied_from_another_release_is_adopted_by_forcing_its_conflicts(
    plane: controlplane.ControlPlane, tmp_path: Path
) -> None:
    """``helm template other … | kubectl apply`` leaves the CRD's labels owned by kubectl's
    client-side apply with another release's values; helm's server-side apply then refuses
    them as a conflict, and only --force-conflicts (beside --take-ownership) adopts the CRD."""
    rendered = helm(plane, tmp_path, "template", "other", str(CHART), "-n", RELEASE_NS)
    crd = next(
        d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "CustomResourceDefinition"
    )
    plane.kubectl("apply", "-f", "-", input=json.dumps(crd))
    args = ("install", RELEASE, str(CHART), "-n", RELEASE_NS, "--take-ownership")
    refused = run_helm(plane, tmp_path, *args)
    assert refused.returncode != 0
    assert "conflict" in refused.stderr
    # The refused install left a failed release, which holds the name.
    helm(plane, tmp_path, "uninstall", RELEASE, "-n", RELEASE_NS, "--wait")
    helm(plane, tmp_path, *args, "--force-conflicts")
    labels = live_crd(plane)["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == RELEASE
