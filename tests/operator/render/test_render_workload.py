"""Pure render tests for the agent workload: Deployment, Service, PDB, HPA, ConfigMap, SA."""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import configmap, deployment, hpa, pdb, service, serviceaccount
from ragagent_operator.render.common import Agent, build_agent

HS256 = {"hs256SecretRef": {"name": "token-signing", "key": "hs256"}}


def make_agent(**spec: Any) -> Agent:
    spec.setdefault("database", {"managed": {}})
    body = {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test")


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def test_deployment_pods_are_hardened() -> None:
    manifest = deployment.build_deployment(make_agent(), config_hash="a", secrets_hash="b")
    pod = manifest["spec"]["template"]["spec"]
    security = _container(manifest)["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in _container(manifest)["volumeMounts"]


def test_deployment_has_probes_prestop_and_grace_for_websocket_drain() -> None:
    container = _container(
        deployment.build_deployment(make_agent(), config_hash="a", secrets_hash="b")
    )
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
    assert container["args"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    grace = deployment.build_pod_spec(make_agent())["terminationGracePeriodSeconds"]
    assert grace > configmap.SHUTDOWN_GRACE_SECONDS


def test_the_grace_period_set_in_the_ragagent_reaches_the_agent_and_the_pod() -> None:
    agent = make_agent(shutdownGraceSeconds=45)
    data = configmap.build_config_map(agent)["data"]
    grace = deployment.build_pod_spec(agent)["terminationGracePeriodSeconds"]
    prestop = deployment.PRESTOP_SLEEP_SECONDS
    assert data["RAGAGENT_SHUTDOWN_GRACE_SECONDS"] == "45"
    # preStop, then the agent's whole drain (one grace period), then time to exit.
    assert grace == prestop + 45 + deployment.EXIT_MARGIN_SECONDS


def test_pod_template_hash_changes_with_config_and_secret_data() -> None:
    agent = make_agent()
    one = deployment.build_deployment(agent, config_hash="c1", secrets_hash="s1")
    two = deployment.build_deployment(agent, config_hash="c1", secrets_hash="s2")
    annotations = two["spec"]["template"]["metadata"]["annotations"]
    assert one["spec"]["template"] != two["spec"]["template"]
    assert annotations[c.Annotation.SECRETS_HASH] == "s2"


def test_deployment_omits_replicas_when_autoscaling_is_enabled() -> None:
    manual = deployment.build_deployment(make_agent(replicas=3), config_hash="a", secrets_hash="b")
    scaled = deployment.build_deployment(
        make_agent(autoscaling={"enabled": True}), config_hash="a", secrets_hash="b"
    )
    assert manual["spec"]["replicas"] == 3
    assert "replicas" not in scaled["spec"]


def test_secrets_are_read_by_reference_and_never_inlined() -> None:
    agent = make_agent(
        database={"external": {"secretRef": {"name": "pg", "key": "url"}}},
        model={"provider": "openai", "apiKey": {"secretRef": {"name": "llm", "key": "token"}}},
        auth={"mode": "jwt", "jwt": {"issuer": "iss", "audience": "aud", **HS256}},
    )
    env = {
        item["name"]: item
        for item in _container(
            deployment.build_deployment(agent, config_hash="a", secrets_hash="b")
        )["env"]
    }
    assert env["RAGAGENT_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "pg", "key": "url"}
    assert env["RAGAGENT_OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "llm",
        "key": "token",
    }
    assert env["RAGAGENT_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "docs-generated"
    hs256 = env["RAGAGENT_JWT_HS256_SECRET"]["valueFrom"]["secretKeyRef"]
    assert hs256 == HS256["hs256SecretRef"]
    # The previous API-key pepper exists only during a rotation, so the pod starts without it.
    previous = env["RAGAGENT_SECRET_KEY_PREVIOUS"]["valueFrom"]["secretKeyRef"]
    assert previous == {"name": "docs-generated", "key": "secret-key-previous", "optional": True}
    assert all("value" not in item for item in env.values())


def test_config_map_carries_the_agent_settings() -> None:
    agent = make_agent(
        model={
            "provider": "openai",
            "baseURL": "https://llm.example:8443/v1",
            "apiKey": {"sealed": {"encryptedValue": "x"}},
        },
        cors={"allowedOrigins": ["https://a.example", "https://b.example"]},
        knowledge={"chunking": {"size": 500, "overlap": 50}},
        auth={"mode": "jwt", "jwt": {"issuer": "iss", "audience": "aud", **HS256}},
    )
    data = configmap.build_config_map(agent)["data"]
    assert data["RAGAGENT_ENVIRONMENT"] == "production"
    assert data["RAGAGENT_OPENAI_BASE_URL"] == "https://llm.example:8443/v1"
    assert data["RAGAGENT_CORS_ALLOWED_ORIGINS"] == "https://a.example,https://b.example"
    assert data["RAGAGENT_CHUNK_SIZE"] == "500"
    assert data["RAGAGENT_JWT_ISSUER"] == "iss"
    assert data["RAGAGENT_JWT_MAX_LIFETIME_SECONDS"] == "3600"
    assert "RAGAGENT_JWT_HS256_SECRET" not in data  # a secret: by reference, in the server only
    assert all(isinstance(value, str) for value in data.values())


def test_service_exposes_app_and_metrics_ports() -> None:
    ports = {
        port["name"]: port["port"] for port in service.build_service(make_agent())["spec"]["ports"]
    }
    assert ports == {"http": 8000, "metrics": 9090}


def test_children_are_owned_and_labelled() -> None:
    for manifest in (
        serviceaccount.build_service_account(make_agent()),
        pdb.build_pdb(make_agent()),
        hpa.build_hpa(make_agent(autoscaling={"enabled": True})),
    ):
        owner = manifest["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "RagAgent"
        assert owner["controller"] is True
        assert manifest["metadata"]["labels"][c.LABEL_MANAGED_BY] == "ragagent-operator"
        assert manifest["metadata"]["labels"][c.LABEL_INSTANCE] == "docs"


def test_hpa_targets_the_deployment_with_cpu_and_behavior() -> None:
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 300}}
    agent = make_agent(
        autoscaling={"enabled": True, "minReplicas": 2, "maxReplicas": 6, "behavior": behavior}
    )
    spec = hpa.build_hpa(agent)["spec"]
    assert spec["scaleTargetRef"]["name"] == "docs"
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert spec["behavior"] == behavior


def test_service_account_does_not_mount_a_token() -> None:
    assert (
        serviceaccount.build_service_account(make_agent())["automountServiceAccountToken"] is False
    )


def test_spec_secrets_provider_wins_over_the_operator_default() -> None:
    body = {
        "metadata": {"name": "docs", "namespace": "team"},
        "spec": {"database": {"managed": {}}, "secrets": {"provider": "kubernetes"}},
    }
    agent = build_agent(body, default_image="img", secrets_provider="sealedSecrets")
    assert agent.secrets_provider == "kubernetes"
    assert (
        build_agent(
            {**body, "spec": {"database": {"managed": {}}}}, default_image="img"
        ).secrets_provider
        == "sealedSecrets"
    )


def test_auth_is_disabled_only_with_the_explicit_acknowledgement() -> None:
    confirmed = make_agent(auth={"mode": "none", "allowUnauthenticated": True})
    data = configmap.build_config_map(confirmed)["data"]
    assert data["RAGAGENT_AUTH_DISABLED"] == "true"
    # The name the agent reads first: the image sets RAGAGENT_ENVIRONMENT=production, which
    # a bare ENVIRONMENT=development never overrode.
    assert data["RAGAGENT_ENVIRONMENT"] == "development"
    assert "ENVIRONMENT" not in data
    # Stored before the CRD rule existed: the agent stays in production mode with API keys.
    unconfirmed = configmap.build_config_map(make_agent(auth={"mode": "none"}))["data"]
    assert "RAGAGENT_AUTH_DISABLED" not in unconfirmed
    assert unconfirmed["RAGAGENT_ENVIRONMENT"] == "production"


def test_conversation_retention_reaches_the_config_map_only_when_set() -> None:
    kept = configmap.build_config_map(make_agent(conversations={"retention": {"days": 30}}))
    assert kept["data"]["RAGAGENT_CONVERSATION_RETENTION_DAYS"] == "30"
    forever = configmap.build_config_map(make_agent())
    assert "RAGAGENT_CONVERSATION_RETENTION_DAYS" not in forever["data"]
