"""The operator on the real control plane, under exactly the RBAC in manifests/rbac."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import subprocess
import time
import urllib.request
from typing import Any

import pytest
import yaml

from tests.operator.integration.harness import (
    OPERATOR_RESOURCES,
    OPERATOR_USER,
    RESYNC_SECONDS,
    Operator,
    get_json,
    wait_for,
)
from tests.support import audit, controlplane

pytestmark = pytest.mark.k8s
# Requests of the operator's user that kopf sends itself, past the operator's request counter:
# its peering keep-alives.
KOPF_RESOURCES = {"clusterkopfpeerings", "kopfpeerings"}
WRITE_HTTP_METHODS = set(audit.WRITE_METHODS.values())


def rag(name: str, **spec: Any) -> str:
    spec.setdefault("database", {"external": {"secretRef": {"name": f"{name}-pg", "key": "url"}}})
    body = {
        "apiVersion": "ragagent.dev/v1alpha1",
        "kind": "RagAgent",
        "metadata": {"name": name},
        "spec": spec,
    }
    return yaml.safe_dump(body)


def apply(
    cluster: controlplane.ControlPlane, ns: str, text: str
) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("apply", "-n", ns, "-f", "-", input=text, check=False)


def db_secret(cluster: controlplane.ControlPlane, ns: str, name: str, url: str) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {"url": url},
    }
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(manifest))


def condition(cluster: controlplane.ControlPlane, ns: str, name: str, kind: str) -> str | None:
    obj = get_json(cluster, "ragagent", name, "-n", ns) or {}
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return str(cond["status"])
    return None


def deployment(cluster: controlplane.ControlPlane, ns: str, name: str) -> dict[str, Any]:
    """The live Deployment, or ``{}`` while there is none."""
    return get_json(cluster, "deployment", name, "-n", ns) or {}


def ready_agent(
    cluster: controlplane.ControlPlane, ns: str, operator: Operator, name: str = "docs", **spec: Any
) -> None:
    agent_with_condition(cluster, ns, operator, "Ready", "True", name=name, timeout=90, **spec)


def agent_with_condition(
    cluster: controlplane.ControlPlane,
    ns: str,
    operator: Operator,
    kind: str,
    status: str,
    name: str = "docs",
    timeout: float = 60.0,
    **spec: Any,
) -> dict[str, Any]:
    """A new RagAgent (its database Secret present) once condition ``kind`` has ``status``;
    returns that condition."""
    db_secret(cluster, ns, f"{name}-pg", "postgresql://u:p@db.example:5432/rag")
    assert apply(cluster, ns, rag(name, **spec)).returncode == 0

    def reached() -> dict[str, Any] | None:
        live = get_json(cluster, "ragagent", name, "-n", ns) or {}
        found = [c for c in (live.get("status") or {}).get("conditions") or [] if c["type"] == kind]
        return found[0] if found and found[0]["status"] == status else None

    return dict(wait_for(reached, f"{name} {kind}={status}", operator=operator, timeout=timeout))


def test_create_gives_every_child_and_turns_ready(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator, backup={"enabled": True})
    for kind, name in [
        ("serviceaccount", "docs"),
        ("configmap", "docs-config"),
        ("sealedsecret", "docs-generated"),
        ("secret", "docs-generated"),
        ("deployment", "docs"),
        ("service", "docs"),
        ("poddisruptionbudget", "docs"),
        ("networkpolicy", "docs-default-deny"),
        ("networkpolicy", "docs-agent"),
        ("cronjob", "docs-backup"),
        ("pvc", "docs-backups"),
    ]:
        child = get_json(cluster, kind, name, "-n", namespace)
        assert child is not None, f"{kind}/{name} missing"
        owners = child["metadata"].get("ownerReferences") or []
        if kind != "secret":  # the unsealed Secret is owned by its SealedSecret
            assert owners[0]["kind"] == "RagAgent", f"{kind}/{name} not owned"
    # The pod template was written once: the generated Secrets are hashed by what the
    # operator sealed, so their unsealing a moment later does not roll the new pods again.
    assert get_json(cluster, "deployment", "docs", "-n", namespace)["metadata"]["generation"] == 1
    status = get_json(cluster, "ragagent", "docs", "-n", namespace)["status"]
    assert status["readyReplicas"] == 2
    assert status["selector"].startswith("app.kubernetes.io/component=agent")
    assert status["endpoints"]["rest"].startswith("http://docs.")
    assert all(cond["observedGeneration"] == 1 for cond in status["conditions"])
    monitoring = next(c for c in status["conditions"] if c["type"] == "MonitoringReady")
    assert monitoring["reason"] == "PrometheusOperatorMissing"  # no crash loop, a clear reason


def events_of(cluster: controlplane.ControlPlane, ns: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events about RagAgent "docs"."""
    selector = "involvedObject.kind=RagAgent,involvedObject.name=docs"
    listed = get_json(cluster, "events", "-n", ns, "--field-selector", selector) or {"items": []}
    return [(e["type"], e["reason"], e["message"]) for e in listed["items"]]


def test_events_and_conditions_report_a_missing_secret_and_the_recovery(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    assert apply(cluster, namespace, rag("docs")).returncode == 0  # its docs-pg does not exist

    def warned() -> list[tuple[str, str, str]]:
        found = events_of(cluster, namespace)
        return [e for e in found if e[0] == "Warning" and e[1] == "SecretNotFound"]

    warning = wait_for(warned, "a Warning Event about the missing Secret", operator=operator)
    assert "docs-pg" in warning[0][2]
    status = get_json(cluster, "ragagent", "docs", "-n", namespace)["status"]
    conditions = {cond["type"]: cond for cond in status["conditions"]}
    assert conditions["SecretsReady"]["reason"] == "SecretNotFound"
    assert conditions["DatabaseReady"]["reason"] == "DatabaseSecretMissing"
    assert conditions["Ready"]["status"] == "False"
    db_secret(cluster, namespace, "docs-pg", "postgresql://u:p@db.example:5432/rag")
    wait_for(
        lambda: condition(cluster, namespace, "docs", "Ready") == "True",
        "Ready once the Secret exists",
        operator=operator,
    )

    def recovered() -> bool:
        normal = [e for e in events_of(cluster, namespace) if e[0] == "Normal"]
        return any(e[2].startswith("SecretsReady is True") for e in normal) and any(
            e[2].startswith("Ready is True") for e in normal
        )

    wait_for(recovered, "Normal Events for the recovery", operator=operator)
    # The controller's routine unsealing of the operator's own Secrets is not news.
    assert not [e for e in events_of(cluster, namespace) if e[1] == "WaitingForUnseal"]


def test_plain_secrets_provider_is_opt_in_and_generated_values_are_kept(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    spec = {"database": {"managed": {}}, "secrets": {"provider": "kubernetes"}}
    assert apply(cluster, namespace, rag("plain", **spec)).returncode == 0
    secret = wait_for(
        lambda: get_json(cluster, "secret", "plain-generated", "-n", namespace),
        "generated Secret",
        operator=operator,
    )
    assert set(secret["data"]) == {"secret-key", "db-password", "database-url"}
    assert get_json(cluster, "sealedsecret", "plain-generated", "-n", namespace) is None
    assert get_json(cluster, "statefulset", "plain-postgres", "-n", namespace) is not None
    time.sleep(2 * RESYNC_SECONDS)
    again = get_json(cluster, "secret", "plain-generated", "-n", namespace)
    assert again["data"] == secret["data"]


def test_bad_resources_are_rejected_with_cel_messages(
    cluster: controlplane.ControlPlane, namespace: str, installed: object
) -> None:
    cases: dict[str, dict[str, Any]] = {
        "autoscaling.minReplicas must be <= autoscaling.maxReplicas": {
            "autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}
        },
        "backup.schedule must be a 5-field cron expression": {
            "backup": {"enabled": True, "schedule": "every day"}
        },
        "model.apiKey needs exactly one of secretRef or sealed": {
            "model": {
                "provider": "openai",
                "apiKey": {
                    "secretRef": {"name": "a", "key": "b"},
                    "sealed": {"encryptedValue": "x"},
                },
            }
        },
        "database needs exactly one of external or managed": {
            "database": {"managed": {}, "external": {"secretRef": {"name": "a", "key": "b"}}}
        },
        "cors.allowedOrigins must not contain wildcards": {
            "cors": {"allowedOrigins": ["https://*.example"]}
        },
        "ipBlock.cidr must be a CIDR": {
            "networkPolicy": {"endpoints": {"model": {"to": [{"ipBlock": {"cidr": "llm.ai"}}]}}}
        },
        "a networkPolicy.endpoints peer takes an ipBlock or pod/namespace selectors": {
            "networkPolicy": {
                "endpoints": {
                    "jwks": {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}
                }
            }
        },
    }
    for message, spec in cases.items():
        result = apply(cluster, namespace, rag("bad", **spec))
        assert result.returncode != 0
        assert message in result.stderr


def test_unauthenticated_mode_needs_the_loud_acknowledgement(
    cluster: controlplane.ControlPlane, namespace: str, installed: object
) -> None:
    refused = apply(cluster, namespace, rag("open", auth={"mode": "none"}))
    assert refused.returncode != 0
    assert "set auth.allowUnauthenticated: true to confirm" in refused.stderr
    unconfirmed = {"mode": "none", "allowUnauthenticated": False}
    assert apply(cluster, namespace, rag("open", auth=unconfirmed)).returncode != 0
    assert get_json(cluster, "ragagent", "open", "-n", namespace) is None
    confirmed = {"mode": "none", "allowUnauthenticated": True}
    assert apply(cluster, namespace, rag("open", auth=confirmed)).returncode == 0
    # The acknowledgement alone changes nothing for an authenticated agent.
    assert (
        apply(cluster, namespace, rag("keyed", auth={"allowUnauthenticated": True})).returncode == 0
    )


def test_update_patches_and_hand_made_drift_is_restored(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator)
    cluster.kubectl(
        "patch",
        "ragagent",
        "docs",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"replicas":3,"observability":{"logLevel":"DEBUG"}}}',
    )
    wait_for(
        lambda: deployment(cluster, namespace, "docs").get("spec", {}).get("replicas") == 3,
        "replicas 3",
        operator=operator,
    )
    config = get_json(cluster, "configmap", "docs-config", "-n", namespace)
    assert config["data"]["RAGAGENT_LOG_LEVEL"] == "DEBUG"
    cluster.kubectl("set", "image", "deployment/docs", "agent=evil:latest", "-n", namespace)
    cluster.kubectl("delete", "service", "docs", "-n", namespace)
    wait_for(
        lambda: get_json(cluster, "service", "docs", "-n", namespace),
        "Service restored",
        operator=operator,
    )

    def image() -> str:
        return str(
            deployment(cluster, namespace, "docs")["spec"]["template"]["spec"]["containers"][0][
                "image"
            ]
        )

    wait_for(lambda: image() == "ragagent:test", "image restored", operator=operator)


CHILD_KINDS = "serviceaccount,configmap,sealedsecret,deployment,service,pdb,networkpolicy"


def operator_writes(cluster: controlplane.ControlPlane, ns: str) -> dict[str, str]:
    """ "Kind/name" -> when the operator's apply last changed that child (its managedFields
    entry), for every child of "docs". Controllers' status writes do not move this time."""
    selector = "app.kubernetes.io/instance=docs"
    listed = get_json(cluster, CHILD_KINDS, "-n", ns, "-l", selector, "--show-managed-fields")
    listed = listed or {"items": []}
    return {
        f"{item['kind']}/{item['metadata']['name']}": entry["time"]
        for item in listed["items"]
        for entry in item["metadata"].get("managedFields") or []
        if entry["manager"] == "ragagent-operator" and entry["operation"] == "Apply"
    }


def changed_by_patch(
    cluster: controlplane.ControlPlane, ns: str, operator: Operator, patch: dict[str, Any]
) -> set[str]:
    """The children the operator writes after ``patch`` of the RagAgent, once it settled."""
    before = operator_writes(cluster, ns)
    time.sleep(1.1)  # managedFields times have a one-second resolution
    cluster.kubectl("patch", "ragagent", "docs", "-n", ns, "--type=merge", "-p", json.dumps(patch))
    wait_for(
        lambda: observed_generation(cluster, ns) == generation(cluster, ns),
        "the change reconciled",
        operator=operator,
    )
    time.sleep(2 * RESYNC_SECONDS)  # resyncs too: a write they make would show here
    after = operator_writes(cluster, ns)
    assert after.keys() == before.keys()
    return {key for key in after if after[key] != before[key]}


def generation(cluster: controlplane.ControlPlane, ns: str) -> int:
    return int(get_json(cluster, "ragagent", "docs", "-n", ns)["metadata"]["generation"])


def observed_generation(cluster: controlplane.ControlPlane, ns: str) -> int | None:
    status = get_json(cluster, "ragagent", "docs", "-n", ns).get("status") or {}
    return status.get("observedGeneration")


def test_a_spec_change_writes_only_the_children_it_affects(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator)
    time.sleep(2 * RESYNC_SECONDS)  # let rollouts and status settle
    assert len(operator_writes(cluster, namespace)) >= 8  # every child, policies included
    peers = [{"namespaceSelector": {"matchLabels": {"team": "web"}}}]
    changed = changed_by_patch(
        cluster, namespace, operator, {"spec": {"networkPolicy": {"ingressFrom": peers}}}
    )
    assert len(changed) == 1, changed
    (policy,) = changed
    assert policy.startswith("NetworkPolicy/")
    live = get_json(cluster, "networkpolicy", policy.split("/")[1], "-n", namespace)
    assert peers[0] in live["spec"]["ingress"][0]["from"]
    # The agent's settings: its ConfigMap, and the Deployment whose pods roll on its hash.
    changed = changed_by_patch(
        cluster, namespace, operator, {"spec": {"rateLimit": {"requestsPerMinute": 30}}}
    )
    assert changed == {"ConfigMap/docs-config", "Deployment/docs"}


def test_kubectl_scale_and_get_work_through_the_scale_subresource_and_columns(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator)
    cluster.kubectl("scale", "ragagent/docs", "--replicas=3", "-n", namespace)
    wait_for(
        lambda: deployment(cluster, namespace, "docs").get("spec", {}).get("replicas") == 3,
        "the Deployment scaled through the RagAgent",
        operator=operator,
    )

    def scale() -> dict[str, Any]:
        got = get_json(cluster, "ragagent", "docs", "-n", namespace, "--subresource=scale")
        return dict(got or {})

    wait_for(lambda: scale().get("status", {}).get("replicas") == 3, "scale status 3")
    observed = scale()
    assert observed["spec"]["replicas"] == 3
    # The selector an HPA uses to find the pods: it selects exactly the agent's pods.
    pods = get_json(cluster, "pods", "-n", namespace, "-l", observed["status"]["selector"])
    assert len(pods["items"]) >= 3
    assert {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods["items"]} == {
        "agent"
    }
    table = cluster.kubectl("get", "ragagent", "docs", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "REPLICAS", "MODEL", "LAST", "BACKUP", "AGE"]
    assert table[1].split()[:2] == ["docs", "True"]


def test_autoscaling_leaves_replicas_to_the_hpa(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator, replicas=2)
    cluster.kubectl(
        "patch",
        "ragagent",
        "docs",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"autoscaling":{"enabled":true,"minReplicas":2,"maxReplicas":6}}}',
    )
    wait_for(lambda: get_json(cluster, "hpa", "docs", "-n", namespace), "HPA", operator=operator)
    time.sleep(RESYNC_SECONDS)
    cluster.kubectl(
        "scale", "deployment/docs", "--replicas=5", "-n", namespace
    )  # what the HPA does
    time.sleep(3 * RESYNC_SECONDS)
    assert deployment(cluster, namespace, "docs")["spec"]["replicas"] == 5
    cluster.kubectl(
        "patch",
        "ragagent",
        "docs",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"autoscaling":{"enabled":false}}}',
    )
    wait_for(
        lambda: get_json(cluster, "hpa", "docs", "-n", namespace) is None,
        "HPA deleted",
        operator=operator,
    )
    wait_for(
        lambda: deployment(cluster, namespace, "docs")["spec"]["replicas"] == 2,
        "replicas back to spec",
        operator=operator,
    )


def test_deletion_garbage_collects_children(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator)
    time.sleep(2 * RESYNC_SECONDS)  # resyncs too: none may add a finalizer
    # No finalizer: a RagAgent (and so its namespace) deletes even while no operator runs.
    assert get_json(cluster, "ragagent", "docs", "-n", namespace)["metadata"].get("finalizers") in (
        None,
        [],
    )
    cluster.kubectl("delete", "ragagent", "docs", "-n", namespace, "--wait=true", "--timeout=60s")
    for kind, name in [
        ("deployment", "docs"),
        ("service", "docs"),
        ("configmap", "docs-config"),
        ("sealedsecret", "docs-generated"),
    ]:

        def collected(kind: str = kind, name: str = name) -> bool:
            return get_json(cluster, kind, name, "-n", namespace) is None

        wait_for(
            collected,
            f"{kind} collected",
            operator=operator,
        )


OLD_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"  # kopf's, kept by its timers


def test_the_finalizer_an_older_version_left_is_removed(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    db_secret(cluster, namespace, "docs-pg", "postgresql://u:p@db.example:5432/rag")
    body = yaml.safe_load(rag("docs"))
    body["metadata"]["finalizers"] = [OLD_FINALIZER]
    assert apply(cluster, namespace, yaml.safe_dump(body)).returncode == 0
    wait_for(
        lambda: (
            not get_json(cluster, "ragagent", "docs", "-n", namespace)["metadata"].get("finalizers")
        ),
        "the old finalizer removed",
        operator=operator,
    )
    wait_for(
        lambda: condition(cluster, namespace, "docs", "Reconciled") == "True",
        "reconciled as usual",
        operator=operator,
    )


def test_sealed_secrets_controller_unseals_generated_and_user_sealed_values(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    sealed = subprocess.run(
        [
            str(cluster.tool("kubeseal")),
            "--raw",
            "--scope",
            "strict",
            "--namespace",
            namespace,
            "--name",
            "docs-llm",
            "--cert",
            str(cluster.sealing_cert_path),
        ],
        input="sk-test-123",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ready_agent(
        cluster,
        namespace,
        operator,
        model={"provider": "openai", "apiKey": {"sealed": {"encryptedValue": sealed}}},
    )
    generated = get_json(cluster, "secret", "docs-generated", "-n", namespace)
    assert len(base64.b64decode(generated["data"]["secret-key"])) >= 48
    llm = wait_for(
        lambda: get_json(cluster, "secret", "docs-llm", "-n", namespace),
        "docs-llm unsealed",
        operator=operator,
    )
    assert base64.b64decode(llm["data"]["api-key"]) == b"sk-test-123"
    live = get_json(cluster, "sealedsecret", "docs-llm", "-n", namespace)
    assert live["spec"]["encryptedData"]["api-key"] == sealed  # passed through untouched


def test_rotating_a_referenced_secret_rolls_the_pods(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator)
    key = "ragagent.dev/secrets-hash"
    before = deployment(cluster, namespace, "docs")["spec"]["template"]["metadata"]["annotations"][
        key
    ]
    db_secret(cluster, namespace, "docs-pg", "postgresql://u:rotated@db.example:5432/rag")

    def after() -> str:
        annotations = deployment(cluster, namespace, "docs")["spec"]["template"]["metadata"][
            "annotations"
        ]
        return str(annotations[key])

    wait_for(lambda: after() != before, "secrets hash changed", operator=operator)
    wait_for(
        lambda: condition(cluster, namespace, "docs", "Ready") == "True",
        "Ready after roll",
        operator=operator,
    )


@dataclasses.dataclass(frozen=True)
class Mark:
    """One moment in both records of the operator's requests: the API server's audit log and
    the operator's own counter."""

    audit_offset: int
    requests: dict[str, float]


def mark(cluster: controlplane.ControlPlane, operator: Operator) -> Mark:
    requests = operator_metric(operator, "api_requests_total", "")
    return Mark(audit.offset(cluster.audit_log_path), requests)


def requests_since(operator: Operator, start: Mark) -> dict[str, int]:
    """The operator's own count of its requests since ``start``, by HTTP method."""
    now = operator_metric(operator, "api_requests_total", "")
    delta = {verb: int(now[verb] - start.requests.get(verb, 0.0)) for verb in now}
    return {verb: count for verb, count in delta.items() if count}


def audited_writes(cluster: controlplane.ControlPlane, start: Mark) -> list[audit.Write]:
    """The writes the audit log names the operator's user for since ``start``."""
    writes = audit.read_writes(cluster.audit_log_path, start.audit_offset)
    return audit.by_user(writes, OPERATOR_USER)


def test_noop_resync_makes_zero_writes(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    wait_for_other_namespaces_gone(cluster, operator)
    start = mark(cluster, operator)
    ready_agent(cluster, namespace, operator, backup={"enabled": True})
    time.sleep(2 * RESYNC_SECONDS)  # let rollouts and status settle
    assert_noop_resync(cluster, operator)
    # The audit log sees the operator's writes, so its zero above is no misspelt user name:
    # from creating this agent on, it counts exactly what the operator's own counter does.
    counted, audited = assert_counter_agrees_with_audit(cluster, operator, start)
    assert counted.get("PATCH", 0) > 0, (counted, audited)


def assert_noop_resync(cluster: controlplane.ControlPlane, operator: Operator) -> None:
    """Over four resync periods, ``operator``'s timers run and the operator writes to no object
    of our kinds: not an apply, not a create, not a delete. The audit log says which writes
    are the operator's user's, so no other client's (the sealed-secrets controller unsealing,
    the controller manager's token Secrets) is blamed on it."""
    # Earlier tests' agents must be gone: re-applying a child their namespace's cleanup just
    # deleted is the operator's write, but no resync of a settled agent.
    wait_for_other_namespaces_gone(cluster, operator)
    start = mark(cluster, operator)
    resyncs = operator_metric(operator, "reconciles_total", 'trigger="timer"')
    time.sleep(4 * RESYNC_SECONDS)
    assert operator_metric(operator, "reconciles_total", 'trigger="timer"') > resyncs
    writes = audited_writes(cluster, start)
    assert audit.object_writes(writes, user=OPERATOR_USER, resources=OPERATOR_RESOURCES) == []
    # Its own counter: it did read, and deleted nothing anywhere.
    requests = requests_since(operator, start)
    assert requests.get("GET", 0) > 0
    assert requests.get("DELETE", 0) == 0


def assert_counter_agrees_with_audit(
    cluster: controlplane.ControlPlane, operator: Operator, start: Mark
) -> tuple[dict[str, int], dict[str, int]]:
    """The operator's counter and the audit log agree on its writes since ``start`` (kopf's
    peering keep-alives aside: kopf sends them past that counter); returns both, by method.

    The audit line is written before the client has its response, so the counter can lag by
    a request in flight: polled for a few seconds before it is a disagreement."""

    def both() -> tuple[dict[str, int], dict[str, int]]:
        requests = requests_since(operator, start)
        counted = {verb: n for verb, n in requests.items() if verb in WRITE_HTTP_METHODS}
        writes = audited_writes(cluster, start)
        return counted, audit.by_method(w for w in writes if w.resource not in KOPF_RESOURCES)

    deadline = time.monotonic() + 10
    while (found := both())[0] != found[1] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert found[0] == found[1], "the operator's counter (left) against the audit log (right)"
    return found


def wait_for_other_namespaces_gone(cluster: controlplane.ControlPlane, operator: Operator) -> None:
    wait_for(
        lambda: not terminating_namespaces(cluster),
        "other namespaces to finish terminating",
        operator=operator,
        timeout=180,
    )


def terminating_namespaces(cluster: controlplane.ControlPlane) -> list[str]:
    listed = get_json(cluster, "namespaces") or {"items": []}
    return [
        ns["metadata"]["name"]
        for ns in listed["items"]
        if ns.get("status", {}).get("phase") == "Terminating"
    ]


def operator_metric(operator: Operator, name: str, match: str) -> Any:
    """``ragagent_operator_<name>`` from the operator's /metrics: summed, or by verb."""
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    prefix = f"ragagent_operator_{name}{{"
    lines = [line for line in text.splitlines() if line.startswith(prefix) and match in line]
    if name == "api_requests_total":
        by_verb: dict[str, float] = {}
        for line in lines:
            verb = re.findall(r'verb="([^"]*)"', line)[0]
            by_verb[verb] = by_verb.get(verb, 0.0) + float(line.rsplit(" ", 1)[1])
        return by_verb
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def _ingest_jobs(cluster: controlplane.ControlPlane, namespace: str) -> list[str]:
    selector = "app.kubernetes.io/component=ingest,app.kubernetes.io/instance=docs"
    listed = get_json(cluster, "jobs", "-n", namespace, "-l", selector) or {"items": []}
    return sorted(job["metadata"]["name"] for job in listed["items"])


def test_knowledge_change_starts_a_new_ingest_job_keyed_by_content(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    cluster.kubectl("create", "configmap", "faq", "-n", namespace, "--from-literal=a.md=# One")
    ready_agent(
        cluster, namespace, operator, knowledge={"sources": [{"configMap": {"name": "faq"}}]}
    )
    first = wait_for(
        lambda: _ingest_jobs(cluster, namespace), "first ingest Job", operator=operator
    )
    time.sleep(2 * RESYNC_SECONDS)
    assert _ingest_jobs(cluster, namespace) == first  # unchanged content, no new Job
    patch = '{"data":{"a.md":"# Two"}}'
    cluster.kubectl("patch", "configmap", "faq", "-n", namespace, "--type=merge", "-p", patch)
    wait_for(
        lambda: (jobs := _ingest_jobs(cluster, namespace)) and first[0] not in jobs,
        "a new ingest Job replacing the old one",
        operator=operator,
    )
    assert len(_ingest_jobs(cluster, namespace)) == 1
