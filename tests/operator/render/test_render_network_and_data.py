"""Pure render tests: NetworkPolicies, managed PostgreSQL, ingestion Job, backups, monitoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import backup, ingest_job, monitoring, networkpolicy, postgres
from ragagent_operator.render.common import Agent, build_agent


def make_agent(**spec: Any) -> Agent:
    spec.setdefault("database", {"managed": {}})
    body = {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test", monitoring_namespace="prom")


def _policies(agent: Agent) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p["spec"] for p in networkpolicy.build_network_policies(agent)}


def _egress_ports(spec: dict[str, Any]) -> set[int]:
    return {port["port"] for rule in spec["egress"] for port in rule.get("ports", [])}


def test_network_policies_start_from_default_deny() -> None:
    deny = _policies(make_agent())["docs-default-deny"]
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny
    assert "egress" not in deny


def test_app_port_is_open_only_to_ingress_from_and_metrics_to_monitoring() -> None:
    peer = {"namespaceSelector": {"matchLabels": {"team": "web"}}}
    agent_spec = _policies(make_agent(networkPolicy={"ingressFrom": [peer]}))["docs-agent"]
    app, metrics = agent_spec["ingress"]
    assert app == {"from": [peer], "ports": [{"protocol": "TCP", "port": 8000}]}
    selector = metrics["from"][0]["namespaceSelector"]["matchLabels"]
    assert selector == {"kubernetes.io/metadata.name": "prom"}
    assert metrics["ports"] == [{"protocol": "TCP", "port": 9090}]


def test_egress_opens_dns_database_llm_port_otlp_and_extra_rules() -> None:
    extra = {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"port": 6379}]}
    agent = make_agent(
        model={
            "provider": "openai",
            "baseURL": "http://llm.internal:8081/v1",
            "apiKey": {"sealed": {"encryptedValue": "x"}},
        },
        observability={"tracing": {"otlpEndpoint": "http://otel.monitoring:4318"}},
        networkPolicy={"extraEgress": [extra]},
    )
    spec = _policies(agent)["docs-agent"]
    assert {53, 5432, 8081, 4318, 6379} <= _egress_ports(spec)
    assert 443 not in _egress_ports(spec)
    assert spec["egress"][-1] == extra


def test_llm_egress_defaults_to_port_443() -> None:
    agent = make_agent(model={"provider": "openai", "apiKey": {"sealed": {"encryptedValue": "x"}}})
    assert 443 in _egress_ports(_policies(agent)["docs-agent"])
    assert networkpolicy.url_port("https://api.example") == 443


def test_managed_database_accepts_only_this_agents_pods() -> None:
    spec = _policies(make_agent())["docs-database"]
    clients = spec["ingress"][0]["from"][0]["podSelector"]
    assert clients["matchLabels"][c.LABEL_INSTANCE] == "docs"
    assert spec["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_managed_postgres_statefulset_has_pvc_service_and_secret_password() -> None:
    agent = make_agent(database={"managed": {"storage": "5Gi", "storageClassName": "fast"}})
    sts = postgres.build_postgres_statefulset(agent)
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    container = sts["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    assert claim["resources"]["requests"]["storage"] == "5Gi"
    assert claim["storageClassName"] == "fast"
    assert env["POSTGRES_USER"]["value"] == "postgres"
    assert env["POSTGRES_APP_USER"]["value"] == "ragagent"
    superuser = env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"]
    assert superuser == c.KEY_DB_SUPERUSER_PASSWORD
    assert env["POSTGRES_APP_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == c.KEY_DB_PASSWORD
    volumes = {volume["name"]: volume for volume in sts["spec"]["template"]["spec"]["volumes"]}
    init = postgres.build_postgres_init_config_map(agent)
    assert volumes["init"]["configMap"]["name"] == "docs-postgres-init"
    assert volumes["init"]["configMap"]["defaultMode"] == 0o555
    # Only the scripts land in the init directory; pg_hba.conf is mounted elsewhere.
    scripts = {item["path"] for item in volumes["init"]["configMap"]["items"]}
    assert scripts == {key for key in init["data"] if key.endswith(".sh")}
    assert init["metadata"]["name"] == "docs-postgres-init"
    # The script reads the password from the pod's environment; the ConfigMap holds none.
    assert "\\getenv password POSTGRES_APP_PASSWORD" in init["data"]["10-app-role.sh"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert postgres.build_postgres_service(agent)["spec"]["clusterIP"] == "None"
    assert postgres.build_database_url(agent, "pw").startswith(
        "postgresql://ragagent:pw@docs-postgres.team.svc:5432/"
    )


def test_managed_postgres_claim_is_deleted_with_the_agent_but_never_on_scale_down() -> None:
    """The claim outlives no RagAgent: its generated passwords go with it (issue 14)."""
    sts = postgres.build_postgres_statefulset(make_agent())
    policy = sts["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert policy == {"whenDeleted": "Delete", "whenScaled": "Retain"}


def test_ingest_job_is_named_by_content_hash_and_mounts_sources() -> None:
    agent = make_agent(
        knowledge={"sources": [{"configMap": {"name": "faq"}}, {"url": "https://x.example/a.md"}]}
    )
    job = ingest_job.build_ingest_job(agent, knowledge_hash="0123456789abcdef", image="img")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert job["metadata"]["name"] == "docs-ingest-0123456789"
    assert container["args"][2:] == ["configmap/faq=/knowledge/0", "https://x.example/a.md"]
    assert job["spec"]["template"]["spec"]["volumes"][1]["configMap"] == {"name": "faq"}
    assert job["metadata"]["annotations"][c.Annotation.KNOWLEDGE_HASH] == "0123456789abcdef"


def test_backup_cronjob_forbids_overlap_and_mounts_pvc_and_tmp() -> None:
    agent = make_agent(backup={"enabled": True, "schedule": "15 2 * * *", "retention": 4})
    cron = backup.build_backup_cronjob(agent, image="img")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert cron["spec"]["schedule"] == "15 2 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["successfulJobsHistoryLimit"] == 3
    assert container["args"] == ["backup", "--dir", "/backups", "--keep", "4"]
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["key"] == c.KEY_DATABASE_URL
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "docs-backups"
    assert container["resources"]["limits"]["memory"] == "1Gi"


def test_backup_uses_an_existing_claim_without_creating_one() -> None:
    agent = make_agent(backup={"enabled": True, "storage": {"existingClaim": "keep-me"}})
    assert backup.build_backup_pvc(agent) is None
    assert backup.backup_claim_name(agent) == "keep-me"
    created = backup.build_backup_pvc(make_agent(backup={"enabled": True}))
    assert created is not None
    assert created["spec"]["resources"]["requests"]["storage"] == "20Gi"


def test_monitoring_objects_select_the_metrics_port() -> None:
    agent = make_agent()
    monitor = monitoring.build_service_monitor(agent)
    rule = monitoring.build_prometheus_rule(agent)
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    alerts = [r["alert"] for r in rule["spec"]["groups"][0]["rules"]]
    assert "RagAgentHighErrorRate" in alerts
    assert all("runbook_url" in r["annotations"] for r in rule["spec"]["groups"][0]["rules"])


def test_every_rendered_alert_links_a_runbook_that_exists_in_the_repo() -> None:
    root = Path(__file__).resolve().parents[3]
    rule = monitoring.build_prometheus_rule(make_agent())
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert alerts
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url.startswith(monitoring.RUNBOOKS + "/"), url
        assert (root / "docs" / "runbooks" / url.removeprefix(monitoring.RUNBOOKS + "/")).is_file()
