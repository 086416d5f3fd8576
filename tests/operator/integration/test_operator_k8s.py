"""The operator on the real control plane, under exactly the RBAC in manifests/rbac: a
RagAgent's life from creation (children, status, Events) through updates, drift, scaling
and autoscaling to deletion."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from tests.operator.integration.agents import (
    DATABASE_URL,
    PLAIN_MANAGED,
    apply,
    condition,
    db_secret,
    deployment,
    events_of,
    patch_agent,
    rag,
    ready_agent,
    wait_for_secret,
)
from tests.operator.integration.harness import RESYNC_SECONDS, Operator, get_json, wait_for
from tests.support import controlplane

JWT_CLAIMS = {"issuer": "https://idp.example", "audience": "docs"}

pytestmark = pytest.mark.k8s


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
    db_secret(cluster, namespace, "docs-pg", DATABASE_URL)
    wait_for(
        lambda: condition(cluster, namespace, "Ready").get("status") == "True",
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
    assert apply(cluster, namespace, rag("plain", **PLAIN_MANAGED)).returncode == 0
    secret = wait_for_secret(cluster, namespace, "plain-generated", "generated Secret", operator)
    assert set(secret["data"]) == {
        "secret-key",
        "db-password",
        "database-url",
        "db-superuser-password",
    }
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
        "knowledge.refreshSchedule must be a 5-field cron expression": {
            "knowledge": {"refreshSchedule": "hourly"}
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
        "auth.jwt.jwksURL must be an https:// URL": {
            "auth": {"mode": "jwt", "jwt": {**JWT_CLAIMS, "jwksURL": "http://idp.example/jwks"}}
        },
        "auth.jwt needs exactly one of jwksURL (RS256/ES256) or hs256SecretRef (HS256)": {
            "auth": {"mode": "jwt", "jwt": JWT_CLAIMS}
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
    patch_agent(
        cluster, namespace, {"spec": {"replicas": 3, "observability": {"logLevel": "DEBUG"}}}
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

    def table() -> list[list[str]]:
        out = cluster.kubectl("get", "ragagent", "docs", "-n", namespace).stdout
        return [line.split() for line in out.splitlines()]

    assert table()[0] == ["NAME", "READY", "REPLICAS", "MODEL", "LAST", "BACKUP", "AGE"]
    # With maxUnavailable 0 the Deployment is unavailable until all three pods are, so Ready
    # is False for a moment after the scale-out, as `kubectl get deploy` shows 1/3.
    wait_for(lambda: table()[1][:3] == ["docs", "True", "3"], "READY True with 3 replicas")


def test_autoscaling_leaves_replicas_to_the_hpa(
    cluster: controlplane.ControlPlane, namespace: str, operator: Operator
) -> None:
    ready_agent(cluster, namespace, operator, replicas=2)
    patch_agent(
        cluster,
        namespace,
        {"spec": {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6}}},
    )
    wait_for(lambda: get_json(cluster, "hpa", "docs", "-n", namespace), "HPA", operator=operator)
    time.sleep(RESYNC_SECONDS)
    cluster.kubectl(
        "scale", "deployment/docs", "--replicas=5", "-n", namespace
    )  # what the HPA does
    time.sleep(3 * RESYNC_SECONDS)
    assert deployment(cluster, namespace, "docs")["spec"]["replicas"] == 5
    patch_agent(cluster, namespace, {"spec": {"autoscaling": {"enabled": False}}})
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
    db_secret(cluster, namespace, "docs-pg", DATABASE_URL)
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
        lambda: condition(cluster, namespace, "Reconciled").get("status") == "True",
        "reconciled as usual",
        operator=operator,
    )
