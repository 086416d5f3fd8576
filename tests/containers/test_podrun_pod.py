"""Whole pod specs to ``podman run`` arguments, including every pod the operator renders."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from ragagent_operator.render import configmap, postgres, postgres_tls, secrets
from ragagent_operator.render.common import Agent, build_agent
from tests.charts import chart_helpers
from tests.operator.render import pods
from tests.support.podrun import model, translate, workloads

REPO = Path(__file__).resolve().parents[2]
POD = model.PodIdentity(name="p-0", namespace="team")
STAMP = "..2026_12_03_10_11_12.1"
CONTAINER = {"name": "c", "image": "img"}
TLS_KEYS = (postgres_tls.KEY_CA_CERT, postgres_tls.KEY_TLS_CERT, postgres_tls.KEY_TLS_KEY)


def plan(
    spec: dict[str, Any],
    tmp_path: Path,
    cluster: model.Cluster | None = None,
    container: str | None = None,
) -> model.RunPlan:
    return translate.build_run_plan(
        spec,
        pod=POD,
        cluster=cluster or model.Cluster(),
        host_dir=tmp_path,
        stamp=STAMP,
        container=container,
    )


def pod(**fields: Any) -> dict[str, Any]:
    container = {**CONTAINER, **fields.pop("container", {})}
    return {"automountServiceAccountToken": False, "containers": [container], **fields}


def make_agent(**spec: Any) -> Agent:
    spec.setdefault("database", {"managed": {}})
    body = {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test")


def cluster_for(agent: Agent, tmp_path: Path) -> model.Cluster:
    """The ConfigMaps (agent, knowledge, database init), generated Secret and claims the
    agent's pods use."""
    value = base64.b64encode(b"v" * 48).decode()
    generated = secrets.build_plain_secret(
        agent,
        secrets.generated_secret_name(agent),
        dict.fromkeys(secrets.generated_keys(agent), b""),
    )
    generated["data"] = dict.fromkeys(generated["data"], value)
    tls = postgres_tls.build_tls_secret(agent, dict.fromkeys(TLS_KEYS, b"PEM"))
    return model.Cluster(
        config_maps={
            "docs-config": configmap.build_config_map(agent),
            "kb": {"data": {"a": "1"}},
            "docs-postgres-init": postgres.build_postgres_init_config_map(agent),
        },
        secrets={generated["metadata"]["name"]: generated, tls["metadata"]["name"]: tls},
        claims={"docs-backups": tmp_path, "data-docs-postgres-0": tmp_path},
    )


FULL_SPEC: dict[str, Any] = {
    "knowledge": {"sources": [{"configMap": {"name": "kb"}}]},
    "backup": {"enabled": True},
    "restore": {"from": "20260101T000000Z", "force": True},
}


@pytest.mark.parametrize("role", sorted(pods.rendered_pods(make_agent(**FULL_SPEC))))
def test_every_pod_the_operator_renders_translates(role: str, tmp_path: Path) -> None:
    """Fails as soon as the operator renders a field the translator does not mirror."""
    agent = make_agent(**FULL_SPEC)
    if role == "database":
        spec = workloads.pod_spec_of(postgres.build_postgres_statefulset(agent))
    else:
        spec = pods.rendered_pods(agent)[role]["spec"]
    for container in spec["containers"]:  # the database pod runs its server and TLS front
        result = plan(spec, tmp_path, cluster_for(agent, tmp_path), container["name"])
        assert "--read-only" in result.options
        assert "--cap-drop=all" in result.options
        assert not [o for o in result.options if o.startswith("--cap-add")]


def test_the_agent_pod_runs_hardened_with_its_probes_and_drain(tmp_path: Path) -> None:
    agent = make_agent()
    spec = pods.rendered_pods(agent)["agent"]["spec"]
    result = plan(spec, tmp_path, cluster_for(agent, tmp_path))
    for option in [
        "--user=10001:10001",
        "--group-add=10001",
        "--security-opt=no-new-privileges",
        "--read-only-tmpfs=false",
        "--network=host",
        '--entrypoint=["ragagent"]',
        f"--mount=type=bind,source={tmp_path}/volumes/tmp,destination=/tmp",
        f"--mount=type=bind,source={tmp_path}/termination-log,destination=/dev/termination-log",
    ]:
        assert option in result.options
    assert not [o for o in result.options if "seccomp" in o]  # RuntimeDefault is podman's own
    assert result.command == ("serve", "--host", "0.0.0.0", "--port", "8000")
    assert result.readiness == model.Probe(
        "http", port=8000, path="/readyz", headers=(("Host", "localhost"),),
        period_seconds=5, timeout_seconds=3, failure_threshold=2,
    )  # fmt: skip
    assert (result.pre_stop_seconds, result.grace_seconds) == (5, 35)
    assert result.env["RAGAGENT_SECRET_KEY"] == "v" * 48


def test_the_container_security_context_wins_over_the_pods(tmp_path: Path) -> None:
    spec = pod(
        securityContext={"runAsUser": 1, "runAsGroup": 2, "fsGroup": 3, "supplementalGroups": [4]},
        container={"securityContext": {"runAsUser": 5}},
    )
    options = plan(spec, tmp_path).options
    assert "--user=5:2" in options
    assert {"--group-add=3", "--group-add=4"} <= set(options)


def test_without_a_seccomp_profile_the_container_is_unconfined(tmp_path: Path) -> None:
    assert "--security-opt=seccomp=unconfined" in plan(pod(), tmp_path).options


def test_capabilities_start_from_the_runtime_default_set(tmp_path: Path) -> None:
    caps = {"drop": ["NET_RAW", "CAP_MKNOD"], "add": ["NET_ADMIN"]}
    options = plan(pod(container={"securityContext": {"capabilities": caps}}), tmp_path).options
    added = {o.removeprefix("--cap-add=") for o in options if o.startswith("--cap-add=")}
    assert "NET_ADMIN" in added
    assert not {"NET_RAW", "MKNOD"} & added
    assert {"CHOWN", "KILL", "AUDIT_WRITE"} <= added
    assert options.index("--cap-drop=all") < options.index("--cap-add=NET_ADMIN")


def test_run_as_non_root_with_user_zero_is_refused(tmp_path: Path) -> None:
    spec = pod(securityContext={"runAsNonRoot": True, "runAsUser": 0})
    with pytest.raises(model.TranslationError):
        plan(spec, tmp_path)


def test_resources_become_cgroup_limits_and_cpu_shares(tmp_path: Path) -> None:
    resources = {"limits": {"memory": "256Mi", "cpu": "500m"}, "requests": {"cpu": "250m"}}
    options = plan(pod(container={"resources": resources}), tmp_path).options
    memory = str(256 * 1024 * 1024)
    assert {f"--memory={memory}", f"--memory-swap={memory}", "--cpus=0.500"} <= set(options)
    assert "--cpu-shares=256" in options
    assert "--cpu-shares=2" in plan(pod(), tmp_path).options  # no request: the minimum


def test_service_names_and_host_aliases_resolve(tmp_path: Path) -> None:
    spec = pod(hostAliases=[{"ip": "10.0.0.9", "hostnames": ["extra"]}])
    cluster = model.Cluster(hosts={"db.team.svc": "127.0.0.1"})
    options = plan(spec, tmp_path, cluster).options
    assert "--add-host=db.team.svc:127.0.0.1" in options
    assert "--add-host=extra:10.0.0.9" in options
    assert "--hostname=p-0" in options


def test_the_service_account_token_is_projected_unless_opted_out(tmp_path: Path) -> None:
    spec = pod(serviceAccountName="op")
    del spec["automountServiceAccountToken"]
    with pytest.raises(model.MissingReferenceError):
        plan(spec, tmp_path)
    credentials = model.ServiceAccountCredentials(token="t0k", ca_pem=b"PEM")
    cluster = model.Cluster(api_server=("127.0.0.1", 6443), service_accounts={"op": credentials})
    result = plan(spec, tmp_path, cluster)
    root = tmp_path / "volumes" / "kube-api-access"
    target = "destination=/var/run/secrets/kubernetes.io/serviceaccount,ro=true"
    assert f"--mount=type=bind,source={root},{target}" in result.options
    files = {f.path.name: f.content for f in result.layout.files if f.path.parent.parent == root}
    assert files == {"token": b"t0k", "ca.crt": b"PEM", "namespace": b"team"}
    assert result.env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"


def test_a_statefulset_pod_binds_its_claim_templates(tmp_path: Path) -> None:
    statefulset = postgres.build_postgres_statefulset(make_agent())
    volumes = workloads.pod_spec_of(statefulset)["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-docs-postgres-0"}} in (
        volumes
    )
    assert workloads.pod_identity(statefulset).name == "docs-postgres-0"


def test_cronjob_pods_come_from_the_job_template() -> None:
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": pod()}}}}}
    assert workloads.pod_spec_of(cron) == pod()


def test_the_termination_message_file_is_mounted_where_the_container_says(tmp_path: Path) -> None:
    spec = pod(container={"terminationMessagePath": "/run/msg"})
    result = plan(spec, tmp_path)
    assert result.termination_log == tmp_path / "termination-log"
    assert model.PlannedFile(result.termination_log, b"", 0o666) in result.layout.files
    assert f"--mount=type=bind,source={result.termination_log},destination=/run/msg" in (
        result.options
    )


@pytest.mark.parametrize(
    "spec",
    [
        pod(hostNetwork=True),
        pod(initContainers=[CONTAINER]),
        pod(securityContext={"sysctls": [{"name": "net.x", "value": "1"}]}),
        pod(container={"stdin": True}),
        pod(container={"securityContext": {"privileged": True}}),
        pod(container={"securityContext": {"seccompProfile": {"type": "Localhost"}}}),
        pod(container={"lifecycle": {"postStart": {"exec": {"command": ["x"]}}}}),
        pod(container={"readinessProbe": {"grpc": {"port": 1}}}),
        pod(container={"resources": {"limits": {"nvidia.com/gpu": 1}}}),
        pod(container={"ports": [{"containerPort": 80, "hostPort": 8080}]}),
    ],
)
def test_fields_the_translator_does_not_mirror_raise(spec: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(model.UnsupportedFieldError):
        plan(spec, tmp_path)


def test_scheduling_fields_are_accepted_and_change_nothing(tmp_path: Path) -> None:
    spec = pod(nodeSelector={"a": "b"}, tolerations=[{"operator": "Exists"}])
    assert plan(spec, tmp_path).argv() == plan(pod(), tmp_path).argv()


def test_the_operators_own_manifest_pod_translates_with_its_service_account(
    tmp_path: Path,
) -> None:
    documents = yaml.safe_load_all((REPO / "manifests/operator/deployment.yaml").read_text())
    manifest = next(doc for doc in documents if doc["kind"] == "Deployment")
    credentials = model.ServiceAccountCredentials(token="t", ca_pem=b"CA")
    cluster = model.Cluster(
        api_server=("127.0.0.1", 6443), service_accounts={"ragagent-operator": credentials}
    )
    result = translate.build_run_plan(
        workloads.pod_spec_of(manifest),
        pod=workloads.pod_identity(manifest),
        cluster=cluster,
        host_dir=tmp_path,
    )
    assert result.liveness == model.Probe("http", port=8081, path="/healthz", period_seconds=20)
    assert result.env["RAGAGENT_OPERATOR_PEERING"] == "ragagent"
    assert "--user=10001:10001" in result.options


def test_the_charts_operator_pod_translates(tmp_path: Path) -> None:
    deployment = chart_helpers.find(chart_helpers.render(), "Deployment")
    credentials = model.ServiceAccountCredentials(token="t", ca_pem=b"CA")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    cluster = model.Cluster(api_server=("127.0.0.1", 6443), service_accounts={account: credentials})
    result = translate.build_run_plan(
        workloads.pod_spec_of(deployment),
        pod=workloads.pod_identity(deployment),
        cluster=cluster,
        host_dir=tmp_path,
    )
    assert result.env["POD_NAME"] == workloads.pod_identity(deployment).name
    assert result.startup is not None
