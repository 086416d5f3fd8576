"""The operator's effective permissions are exactly what its reconcile uses, in both modes.

``kubectl auth can-i --list`` (as the chart's ServiceAccount, its RBAC applied to the real
control plane) is compared with USED: any grant beyond it fails the test. USED is
cross-checked with the audit log of a reconcile under that RBAC that creates every child kind
and then turns autoscaling, backups and the managed database off (the delete paths): its writes,
and its reads too, since that operator runs in the one namespace whose reads the control plane
audits (audit.READS_AUDITED_NAMESPACE). A grant the reconcile does not use is listed in
NOT_EXERCISED or NOT_READ with its reason.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.chart_cluster import start_chart_operator
from tests.charts.chart_helpers import CHART, run_helm
from tests.operator.integration.agents import DATABASE_URL, condition, patch_agent
from tests.operator.integration.harness import get_json, stop, wait_for
from tests.support import audit, controlplane

pytestmark = pytest.mark.k8s
PRIORITY = 2**31 - 1  # above the session operator's: it pauses while this one runs
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
PEERING = {("clusterkopfpeerings.kopf.dev", v) for v in ("get", "list", "watch", "patch")}
SECRETS = {("secrets", v) for v in ("get", "create", "patch")}
# What the reconcile does in a watched namespace, as (resource as can-i names it, verb).
USED = {
    # kopf lists and watches RagAgents; retries and the resync get one; kopf patches one to drop
    # a finalizer older versions left.
    *{("ragagents.ragagent.dev", v) for v in ("get", "list", "watch", "patch")},
    ("ragagents.ragagent.dev/status", "patch"),
    # Authorization only: blockOwnerDeletion owner references (never sent as a request).
    ("ragagents.ragagent.dev/finalizers", "update"),
    ("events", "create"),
    *{
        (r, v)
        for r in ("serviceaccounts", "configmaps", "persistentvolumeclaims")
        for v in ("get", "create", "patch")
    },
    *{("services", v) for v in ("get", "create", "patch", "delete")},
    *{("deployments.apps", v) for v in ("get", "list", "watch", "create", "patch")},
    *{("statefulsets.apps", v) for v in ("get", "list", "watch", "create", "patch", "delete")},
    *{("poddisruptionbudgets.policy", v) for v in ("get", "create", "patch")},
    *{("horizontalpodautoscalers.autoscaling", v) for v in ("get", "create", "patch", "delete")},
    *{("networkpolicies.networking.k8s.io", v) for v in ("get", "create", "patch", "delete")},
    *{("jobs.batch", v) for v in ("get", "list", "watch", "create", "patch", "delete")},
    *{("cronjobs.batch", v) for v in ("get", "create", "patch", "delete")},
    ("pods", "list"),  # Job results and failing agent pods, from their container statuses
    *{("sealedsecrets.bitnami.com", v) for v in ("get", "create", "patch")},
    *{
        (f"{r}.monitoring.coreos.com", v)
        for r in ("servicemonitors", "prometheusrules")
        for v in ("get", "create", "patch", "delete")
    },
    *SECRETS,
}
# Writes in USED the reconcile below does not make, and why they stay.
NOT_EXERCISED = {
    ("ragagents.ragagent.dev", "patch"),  # only on a RagAgent an older version left a finalizer
    ("ragagents.ragagent.dev/finalizers", "update"),  # an authorization check, no request
    ("jobs.batch", "delete"),  # a superseded ingest Job (test_operator_writes_k8s)
    ("sealedsecrets.bitnami.com", "create"),  # the sealed provider (test_sealing_k8s)
    ("sealedsecrets.bitnami.com", "patch"),
    *{
        (f"{r}.monitoring.coreos.com", v)
        for r in ("servicemonitors", "prometheusrules")
        for v in ("create", "patch", "delete")
    },  # no Prometheus Operator CRDs here
}
# Reads in USED the reconcile below does not make, and why they stay.
NOT_READ = {
    ("jobs.batch", "get"),  # a restore or re-index Job by its request's name (test_restore_k8s)
    ("sealedsecrets.bitnami.com", "get"),  # the sealed provider (test_sealing_k8s)
    *{
        (f"{r}.monitoring.coreos.com", "get") for r in ("servicemonitors", "prometheusrules")
    },  # no Prometheus Operator CRDs here
}
# Writes by verb: a server-side apply is a "patch", even when it creates the object.
WRITE_VERBS = ("create", "patch", "delete", "update")
CREATED = 201
ROW = re.compile(r"^(\S+)\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$")


def can_i_list(cluster: controlplane.ControlPlane, user: str, ns: str) -> set[tuple[str, str]]:
    """(resource, verb) pairs ``kubectl auth can-i --list`` shows for ``user`` in ``ns``, less
    what every authenticated user may do (the self-reviews); a resource limited to names is
    written "resource[name ...]"."""
    nobody = f"system:serviceaccount:{ns}:nobody-{secrets.token_hex(3)}"
    return _listed(cluster, user, ns) - _listed(cluster, nobody, ns)


def _listed(cluster: controlplane.ControlPlane, user: str, ns: str) -> set[tuple[str, str]]:
    out = cluster.kubectl("auth", "can-i", "--list", "-n", ns, f"--as={user}").stdout
    granted = set()
    for line in out.splitlines()[1:]:
        match = ROW.match(line)
        if match is None:
            continue  # a non-resource URL (its first column is empty)
        resource, _, names, verbs = match.groups()
        resource += f"[{names}]" if names else ""
        granted |= {(resource, verb) for verb in verbs.split()}
    return granted


def apply_rbac(cluster: controlplane.ControlPlane, ns: str, *sets: str) -> str:
    """The chart's RBAC rendered into ``ns`` and applied; returns the ServiceAccount's user."""
    release = f"perm{secrets.token_hex(3)}"
    args = [arg for pair in sets for arg in ("--set", pair)]
    text = run_helm("template", release, str(CHART), "--namespace", ns, *args)
    objects = [m for m in yaml.safe_load_all(text) if m and m["kind"] in RBAC_KINDS]
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"kind": "List", "apiVersion": "v1",
                                                         "items": objects}))  # fmt: skip
    return f"system:serviceaccount:{ns}:{release}-ragagent-operator"


def new_namespace(cluster: controlplane.ControlPlane, prefix: str) -> str:
    name = f"{prefix}-{secrets.token_hex(3)}"
    cluster.kubectl("create", "namespace", name)
    return name


def test_namespaced_mode_grants_what_the_reconcile_uses_and_only_in_its_namespace(
    cluster: controlplane.ControlPlane, namespace: str, installed: Path
) -> None:
    user = apply_rbac(cluster, namespace, "peering.name=ragagent")
    other = new_namespace(cluster, "perm-other")

    assert can_i_list(cluster, user, namespace) == USED | PEERING
    assert can_i_list(cluster, user, other) == PEERING
    cert = ("services/proxy[http:sealed-secrets-controller:]", "get")
    assert can_i_list(cluster, user, "kube-system") == PEERING | {cert}
    cluster.kubectl("delete", "namespace", other, "--wait=false")


def test_cluster_mode_grants_secrets_only_where_bound(
    cluster: controlplane.ControlPlane, namespace: str, installed: Path
) -> None:
    bound = new_namespace(cluster, "perm-secrets")
    user = apply_rbac(cluster, namespace, "clusterWide=true", f"rbac.secretNamespaces={{{bound}}}")
    other = new_namespace(cluster, "perm-other")
    framework = {("customresourcedefinitions.apiextensions.k8s.io", v) for v in ("list", "watch")}
    framework |= {("namespaces", v) for v in ("list", "watch")}

    assert can_i_list(cluster, user, other) == (USED - SECRETS) | PEERING | framework
    assert can_i_list(cluster, user, bound) == USED | PEERING | framework
    for name in (bound, other):
        cluster.kubectl("delete", "namespace", name, "--wait=false")


def full_agent(ns: str) -> list[dict[str, Any]]:
    """A RagAgent with every child kind this cluster serves, its Secrets and ConfigMap."""
    use = {"ragagent.dev/use": "true"}
    faq = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"faq.md": "# FAQ"},
           "metadata": {"name": "perm-faq", "namespace": ns, "labels": use}}  # fmt: skip
    url = {"url": DATABASE_URL}
    pg = {"apiVersion": "v1", "kind": "Secret", "stringData": url,
          "metadata": {"name": "perm-pg", "namespace": ns, "labels": use}}  # fmt: skip
    spec = {
        "database": {"managed": {}},
        "secrets": {"provider": "kubernetes"},
        "knowledge": {"sources": [{"configMap": {"name": "perm-faq"}}]},
        "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 2},
        "backup": {"enabled": True, "schedule": "0 3 * * *"},
    }
    agent = {"apiVersion": "ragagent.dev/v1alpha1", "kind": "RagAgent",
             "metadata": {"name": "docs", "namespace": ns}, "spec": spec}  # fmt: skip
    return [faq, pg, agent]


def reconciled_generation(cluster: controlplane.ControlPlane, ns: str, generation: int) -> bool:
    done = condition(cluster, ns, "Reconciled")
    return done.get("status") == "True" and done.get("observedGeneration") == generation


@pytest.fixture
def audited_namespace(cluster: controlplane.ControlPlane) -> Iterator[str]:
    """The namespace whose ServiceAccounts' reads the control plane audits, made for one test."""
    name = audit.READS_AUDITED_NAMESPACE
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


def test_the_reconcile_reads_and_writes_only_what_used_lists(
    cluster: controlplane.ControlPlane, audited_namespace: str, installed: Path
) -> None:
    namespace = audited_namespace
    user = apply_rbac(cluster, namespace, "peering.name=ragagent")
    account = user.rsplit(":", 1)[1]
    kubeconfig = cluster.kubeconfig_for_token(cluster.token_for(account, namespace), name=account)
    start = audit.offset(cluster.audit_log_path)
    env = {"RAGAGENT_OPERATOR_NAMESPACES": namespace, "RAGAGENT_OPERATOR_PRIORITY": str(PRIORITY),
           "RAGAGENT_OPERATOR_PEERING": "ragagent"}  # fmt: skip
    operator = start_chart_operator(cluster, env, kubeconfig)
    external = {"secretRef": {"name": "perm-pg", "key": "url"}}
    off = {"autoscaling": {"enabled": False}, "backup": {"enabled": False},
           "database": {"managed": None, "external": external}}  # fmt: skip
    try:
        for obj in full_agent(namespace):
            cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(obj))
        # Generation 2 keeps every child: a reconcile of a RagAgent that is no longer new
        # reads its children before it applies them (the first one knows they are absent),
        # so their reads are exercised whether or not a resync happened to run in between.
        more = {"autoscaling": {"maxReplicas": 3}}
        for generation, spec in ((1, None), (2, more), (3, off)):
            if spec is not None:
                patch_agent(cluster, namespace, {"spec": spec})
            wait_for(
                functools.partial(reconciled_generation, cluster, namespace, generation),
                f"Reconciled generation {generation}",
                operator=operator,
            )
    finally:
        stop(operator)
    writes = audit.by_user(audit.read_writes(cluster.audit_log_path, start), user)
    observed = {(write_resource(w), w.verb) for w in writes}
    # An apply that creates is audited as a patch answered 201; it was authorized as a create.
    observed |= {(write_resource(w), "create") for w in writes if w.code == CREATED}
    reads = audit.by_user(audit.read_reads(cluster.audit_log_path, start), user)
    read = {(write_resource(r), r.verb) for r in reads}

    assert observed <= USED | PEERING, observed - USED - PEERING
    listed_writes = {(r, v) for r, v in USED if v in WRITE_VERBS}
    assert listed_writes - observed == NOT_EXERCISED
    assert read <= USED | PEERING, read - USED - PEERING
    listed_reads = {(r, v) for r, v in USED if v in audit.READ_VERBS}
    assert listed_reads - read == NOT_READ
    assert get_json(cluster, "statefulset", "docs-postgres", "-n", namespace) is None


def write_resource(write: audit.Write) -> str:
    """The audit log's resource as can-i names it: "plural[.group][/subresource]"."""
    group = {"deployments": "apps", "statefulsets": "apps", "jobs": "batch", "cronjobs": "batch",
             "poddisruptionbudgets": "policy", "horizontalpodautoscalers": "autoscaling",
             "networkpolicies": "networking.k8s.io", "ragagents": "ragagent.dev",
             "sealedsecrets": "bitnami.com",
             "clusterkopfpeerings": "kopf.dev"}.get(write.resource)  # fmt: skip
    name = f"{write.resource}.{group}" if group else write.resource
    return f"{name}/{write.subresource}" if write.subresource else name
