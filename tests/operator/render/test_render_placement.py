"""spec.nodeSelector and spec.tolerations reach every pod a RagAgent runs: the agent, its
managed database and its Jobs, so a tainted node pool holds all of them."""

from __future__ import annotations

from typing import Any

from ragagent_operator.render import backup, deployment, ingest_job, postgres, reindex, restore
from ragagent_operator.render.common import Agent, build_agent
from ragagent_operator.spec import Restore

SELECTOR = {"pool": "rag"}
TOLERATIONS = [{"key": "pool", "operator": "Equal", "value": "rag", "effect": "NoSchedule"}]


def make_agent(**spec: Any) -> Agent:
    spec = {
        "database": {"managed": {}},
        "backup": {"enabled": True},
        "knowledge": {"sources": [{"configMap": {"name": "faq"}}]},
        **spec,
    }
    body = {"metadata": {"name": "docs", "namespace": "team", "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test")


def pod_specs(agent: Agent) -> dict[str, dict[str, Any]]:
    """Every pod template the RagAgent's children carry, by kind."""
    cron = backup.build_backup_cronjob(agent, image="img")
    assert cron is not None
    jobs = {
        "Deployment": deployment.build_deployment(agent, config_hash="c", secrets_hash="s"),
        "StatefulSet": postgres.build_postgres_statefulset(agent),
        "ingest Job": ingest_job.build_ingest_job(agent, knowledge_hash="k", image="img"),
        "reindex Job": reindex.build_reindex_job(agent, settings_hash="h", image="img"),
        "restore Job": restore.build_restore_job(
            agent, Restore.model_validate({"from": "latest"}), image="img"
        ),
    }
    specs = {kind: obj["spec"]["template"]["spec"] for kind, obj in jobs.items()}
    specs["backup CronJob"] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return specs


def test_node_selector_and_tolerations_reach_every_pod_the_ragagent_runs() -> None:
    agent = make_agent(nodeSelector=SELECTOR, tolerations=TOLERATIONS)
    for kind, spec in pod_specs(agent).items():
        assert spec.get("nodeSelector") == SELECTOR, kind
        assert spec.get("tolerations") == TOLERATIONS, kind


def test_without_placement_no_pod_names_a_node() -> None:
    for kind, spec in pod_specs(make_agent()).items():
        assert "nodeSelector" not in spec, kind
        assert "tolerations" not in spec, kind
