"""Unit tests on the rendered ragagent-operator chart (real `helm template`, no cluster)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from ragagent_operator.config import OperatorSettings
from tests.charts.chart_helpers import (
    CHART,
    FULLNAME,
    NAMESPACE,
    PROMETHEUS_APIS,
    REPO_ROOT,
    HelmError,
    find,
    of_kind,
    render,
    run_helm,
)

LABEL_KEYS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)


@pytest.fixture(scope="module")
def default_render() -> list[dict[str, Any]]:
    return render()


def _container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    pod = find(manifests, "Deployment")["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    container: dict[str, Any] = pod["containers"][0]
    return container


def _rules_text(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples granted by a list of RBAC rules."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_helm_lint_is_clean() -> None:
    out = run_helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in out
    assert "[WARNING]" not in out
    assert "[ERROR]" not in out


def test_deployment_runs_two_hardened_replicas(default_render: list[dict[str, Any]]) -> None:
    deployment = find(default_render, "Deployment", FULLNAME)
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = _container(default_render)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_container_has_probes_resources_and_ports(default_render: list[dict[str, Any]]) -> None:
    container = _container(default_render)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["resources"]["limits"]["memory"] == "256Mi"
    assert container["resources"]["requests"]["cpu"] == "50m"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}


def test_operator_settings_are_passed_as_env(default_render: list[dict[str, Any]]) -> None:
    env = {e["name"]: e.get("value") for e in _container(default_render)["env"]}
    assert env["RAGAGENT_OPERATOR_NAMESPACES"] == NAMESPACE  # namespaced mode, its own namespace
    assert "RAGAGENT_OPERATOR_SEALED_SECRETS_CERT_SHA256" not in env
    assert env["RAGAGENT_OPERATOR_PEERING"] == "ragagent"
    assert env["RAGAGENT_OPERATOR_METRICS_PORT"] == "8080"
    assert env["RAGAGENT_OPERATOR_SEALED_SECRETS_SERVICE"] == "sealed-secrets-controller"


def test_every_resource_carries_the_standard_labels(default_render: list[dict[str, Any]]) -> None:
    for manifest in default_render:
        labels = manifest["metadata"]["labels"]
        missing = [key for key in LABEL_KEYS if key not in labels]
        assert not missing, f"{manifest['kind']} {manifest['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/instance"] == "rel"


def test_selector_labels_match_the_pod_template(default_render: list[dict[str, Any]]) -> None:
    deployment = find(default_render, "Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert (
        find(default_render, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    )
    assert find(default_render, "Service")["spec"]["selector"] == selector


def test_cluster_mode_is_explicit_and_grants_secrets_only_per_namespace() -> None:
    manifests = render("clusterWide=true", "rbac.secretNamespaces={team-a}")
    role = find(manifests, "ClusterRole", FULLNAME)
    granted = _rules_text(role["rules"])
    assert ("ragagent.dev", "ragagents/status", "patch") in granted
    assert ("apps", "deployments", "patch") in granted
    assert ("kopf.dev", "clusterkopfpeerings", "watch") in granted
    assert not [rule for rule in granted if rule[1] == "secrets"]
    binding = find(manifests, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}
    ]
    assert binding["roleRef"]["name"] == FULLNAME  # the -secrets ClusterRole has no such binding
    secrets = find(manifests, "ClusterRole", f"{FULLNAME}-secrets")
    assert _rules_text(secrets["rules"]) == {("", "secrets", v) for v in ("get", "create", "patch")}
    (secret_binding,) = [b for b in of_kind(manifests, "RoleBinding")
                         if b["roleRef"]["name"] == f"{FULLNAME}-secrets"]  # fmt: skip
    assert secret_binding["metadata"]["namespace"] == "team-a"
    assert [r for r in of_kind(manifests, "Role") if r["metadata"]["name"] == FULLNAME] == []
    env = {e["name"]: e.get("value") for e in _container(manifests)["env"]}
    assert env["RAGAGENT_OPERATOR_NAMESPACES"] == ""


def test_the_default_is_namespaced_mode_in_the_release_namespace(
    default_render: list[dict[str, Any]],
) -> None:
    (role,) = [r for r in of_kind(default_render, "Role") if r["metadata"]["name"] == FULLNAME]
    assert role["metadata"]["namespace"] == NAMESPACE
    assert ("", "secrets", "get") in _rules_text(role["rules"])
    assert [r["metadata"]["name"] for r in of_kind(default_render, "ClusterRole")] == [
        f"{FULLNAME}-peering"
    ]


def test_cluster_mode_refuses_a_namespace_list() -> None:
    with pytest.raises(HelmError, match="leave watchNamespaces empty"):
        render("clusterWide=true", "watchNamespaces={a}")


def test_the_sealing_certificate_pin_reaches_the_operator_settings() -> None:
    pin = "ab" * 32
    container = _container(render(f"sealedSecrets.certificateSHA256={pin}"))
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RAGAGENT_OPERATOR_SEALED_SECRETS_CERT_SHA256"] == pin
    assert OperatorSettings(sealed_secrets_cert_sha256=pin).sealed_secrets_cert_sha256 == pin


def test_rbac_grants_no_wildcards_and_no_escalation(default_render: list[dict[str, Any]]) -> None:
    roles = of_kind(default_render, "ClusterRole") + of_kind(default_render, "Role")
    for role in roles:
        for group, resource, verb in _rules_text(role["rules"]):
            assert "*" not in (group, resource, verb), role["metadata"]["name"]
            assert verb not in {"escalate", "bind", "impersonate"}
            assert resource not in {"roles", "clusterroles", "rolebindings", "pods/exec"}


def test_sealing_cert_access_is_limited_to_the_controller_service(
    default_render: list[dict[str, Any]],
) -> None:
    role = find(default_render, "Role", f"{FULLNAME}-sealing-cert")
    assert role["metadata"]["namespace"] == "kube-system"
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["services/proxy"],
            "resourceNames": ["http:sealed-secrets-controller:"],
            "verbs": ["get"],
        }
    ]


def test_namespaced_mode_creates_roles_only_in_watched_namespaces() -> None:
    manifests = render("watchNamespaces={team-a,team-b}")
    roles = [r for r in of_kind(manifests, "Role") if r["metadata"]["name"] == FULLNAME]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    # The one cluster-wide grant left is the kopf peering object: no workload, no secret.
    cluster_role = find(manifests, "ClusterRole")
    assert _rules_text(cluster_role["rules"]) == {
        ("kopf.dev", "clusterkopfpeerings", verb) for verb in ("get", "list", "watch", "patch")
    }
    assert (
        find(manifests, "ClusterRoleBinding")["roleRef"]["name"] == cluster_role["metadata"]["name"]
    )
    bindings = [b for b in of_kind(manifests, "RoleBinding") if b["metadata"]["name"] == FULLNAME]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    env = {e["name"]: e.get("value") for e in _container(manifests)["env"]}
    assert env["RAGAGENT_OPERATOR_NAMESPACES"] == "team-a,team-b"


def _is_framework(rule: tuple[str, str, str]) -> bool:
    return rule[0] in {"kopf.dev", "apiextensions.k8s.io"} or rule[1] == "namespaces"


def test_namespaced_and_cluster_modes_grant_the_same_workload_rules(
    default_render: list[dict[str, Any]],
) -> None:
    cluster = render("clusterWide=true")
    cluster_rules = _rules_text(find(cluster, "ClusterRole", FULLNAME)["rules"])
    cluster_rules |= _rules_text(find(cluster, "ClusterRole", f"{FULLNAME}-secrets")["rules"])
    namespaced_rules = _rules_text(find(default_render, "Role", FULLNAME)["rules"])
    assert {r for r in namespaced_rules if not _is_framework(r)} == {
        r for r in cluster_rules if not _is_framework(r)
    }


def _plain_rules(path: str, kind: str, name: str) -> set[tuple[str, str, str]]:
    plain = [m for m in yaml.safe_load_all((REPO_ROOT / "manifests" / path).read_text()) if m]
    return _rules_text(find(plain, kind, name)["rules"])


def test_both_modes_grant_exactly_what_manifests_rbac_grants(
    default_render: list[dict[str, Any]],
) -> None:
    assert _rules_text(find(default_render, "Role", FULLNAME)["rules"]) == _plain_rules(
        "rbac/rbac.yaml", "Role", "ragagent-operator"
    )
    sealing = find(default_render, "Role", f"{FULLNAME}-sealing-cert")["rules"]
    assert _rules_text(sealing) == _plain_rules(
        "rbac/rbac.yaml", "Role", "ragagent-operator-sealing-cert"
    )
    cluster = render("clusterWide=true")
    for suffix in ("", "-secrets"):
        granted = _rules_text(find(cluster, "ClusterRole", FULLNAME + suffix)["rules"])
        assert granted == _plain_rules(
            "rbac-cluster/rbac.yaml", "ClusterRole", "ragagent-operator" + suffix
        )


def test_peering_lifetime_reaches_the_operator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        e["name"]: e.get("value") for e in _container(render("peering.lifetimeSeconds=20"))["env"]
    }
    assert env["RAGAGENT_OPERATOR_PEERING_LIFETIME_SECONDS"] == "20"
    monkeypatch.setenv("RAGAGENT_OPERATOR_PEERING_LIFETIME_SECONDS", "20")
    assert OperatorSettings().peering_lifetime_seconds == 20


def test_peering_object_is_created_for_the_replicas(default_render: list[dict[str, Any]]) -> None:
    assert find(default_render, "ClusterKopfPeering")["metadata"]["name"] == "ragagent"
    standalone = render("replicaCount=1", "peering.name=")
    assert of_kind(standalone, "ClusterKopfPeering") == []
    assert (
        of_kind(render("peering.name=", "replicaCount=1", "watchNamespaces={a}"), "ClusterRole")
        == []
    )


def test_network_policy_admits_only_scrapers_and_reaches_only_dns_and_the_api_server(
    default_render: list[dict[str, Any]],
) -> None:
    policy = find(default_render, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP")}
    assert all("to" not in rule for rule in policy["egress"])
    assert of_kind(render("networkPolicy.enabled=false"), "NetworkPolicy") == []


def test_pdb_keeps_one_operator_available(default_render: list[dict[str, Any]]) -> None:
    assert find(default_render, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    assert of_kind(render("replicaCount=1", "peering.name="), "PodDisruptionBudget") == []


def test_metrics_service_exposes_the_metrics_port(default_render: list[dict[str, Any]]) -> None:
    service = find(default_render, "Service", f"{FULLNAME}-metrics")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]


def test_optional_monitoring_objects_are_off_by_default(
    default_render: list[dict[str, Any]],
) -> None:
    kinds = {m["kind"] for m in default_render}
    assert "ServiceMonitor" not in kinds
    assert "PrometheusRule" not in kinds
    crds = of_kind(default_render, "CustomResourceDefinition")
    assert [c["metadata"]["name"] for c in crds] == ["ragagents.ragagent.dev"]


def test_service_monitor_selects_the_metrics_service() -> None:
    manifests = render("serviceMonitor.enabled=true", api_versions=PROMETHEUS_APIS)
    monitor = find(manifests, "ServiceMonitor")
    service = find(manifests, "Service", f"{FULLNAME}-metrics")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True


def test_prometheus_rule_embeds_the_alert_file_verbatim() -> None:
    manifests = render("prometheusRule.enabled=true", api_versions=PROMETHEUS_APIS)
    rule = find(manifests, "PrometheusRule")
    source = yaml.safe_load((CHART / "alerts" / "ragagent.rules.yaml").read_text())
    assert rule["spec"] == source
    summaries = [r["annotations"]["summary"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert any("{{ $labels.namespace }}" in s for s in summaries)


@pytest.mark.parametrize("toggle", ["serviceMonitor.enabled", "prometheusRule.enabled"])
def test_preflight_fails_clearly_without_prometheus_operator_crds(toggle: str) -> None:
    with pytest.raises(HelmError, match=r"PREFLIGHT: .*no (ServiceMonitor|PrometheusRule) CRD"):
        render(f"{toggle}=true")


def test_preflight_refuses_two_replicas_without_peering() -> None:
    with pytest.raises(HelmError, match=r"PREFLIGHT: replicaCount > 1 needs peering\.name"):
        render("peering.name=")


def test_dashboards_are_configmaps_for_the_grafana_sidecar(
    default_render: list[dict[str, Any]],
) -> None:
    maps = [
        m
        for m in of_kind(default_render, "ConfigMap")
        if "grafana_dashboard" in m["metadata"]["labels"]
    ]
    assert len(maps) == 2
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((name, content),) = config_map["data"].items()
        assert json.loads(content) == json.loads((CHART / "dashboards" / name).read_text())
    assert of_kind(render("grafana.dashboards.enabled=false"), "ConfigMap") == []


def test_sealed_secret_crd_is_optional_and_kept_on_uninstall() -> None:
    crd = find(
        render("sealedSecrets.installCRD=true"),
        "CustomResourceDefinition",
        "sealedsecrets.bitnami.com",
    )
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert crd["spec"]["versions"][0]["name"] == "v1alpha1"


def test_only_the_kopf_peering_crd_ships_in_crds() -> None:
    """crds/ is installed once and never upgraded: the RagAgent CRD is a template instead."""
    crds = of_kind(render(include_crds=True), "CustomResourceDefinition")
    names = sorted(c["metadata"]["name"] for c in crds)
    assert names == ["clusterkopfpeerings.kopf.dev", "ragagents.ragagent.dev"]


def test_image_digest_wins_over_the_tag() -> None:
    digest = "sha256:" + "a" * 64
    image = _container(render(f"image.digest={digest}", "image.tag=9.9.9"))["image"]
    assert image == f"ghcr.io/ragagent/ragagent-operator@{digest}"
    assert _container(render())["image"] == "ghcr.io/ragagent/ragagent-operator:0.1.0"


@pytest.mark.parametrize(
    ("bad_value", "complaint"),
    [
        ("replicaCount=0", "replicaCount"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("watchNamespaces={Bad_Namespace}", "watchNamespaces"),
        ("logLevel=LOUD", "logLevel"),
        ("serviceMonitor.interval=often", "interval"),
        ("notAValue=1", "notAValue"),
        ("metrics.port=70000", "port"),
        ("peering.lifetimeSeconds=5", "lifetimeSeconds"),
    ],
)
def test_schema_rejects_bad_values(bad_value: str, complaint: str) -> None:
    with pytest.raises(HelmError, match=complaint):
        render(bad_value)
