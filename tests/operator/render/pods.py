"""Every pod the operator renders for one RagAgent, in one place for contract tests.

Policies, environment and security contracts hold for each pod the operator can
start, so tests iterate ``rendered_pods(agent)`` instead of each keeping a list.
"""

from __future__ import annotations

from typing import Any

from ragagent_operator.render import (
    backup,
    deployment,
    ingest_job,
    postgres,
    reindex,
    restore,
)
from ragagent_operator.render.common import Agent

# A pod template: {"metadata": {"labels": ...}, "spec": <PodSpec>}.
PodTemplate = dict[str, Any]
IMAGE = "ragagent:test"
HASH = "0123456789abcdef"


def rendered_pods(agent: Agent) -> dict[str, PodTemplate]:
    """The pod templates the operator renders for ``agent``'s spec, by role.

    Roles: ``agent`` and ``reindex`` always (any change of the index settings runs a
    re-index); ``ingest`` with knowledge sources; ``database`` with a managed database;
    ``backup`` (the CronJob's) and ``pre-reindex-backup`` with backups enabled;
    ``restore`` when ``spec.restore`` is set.
    """
    spec = agent.spec
    pods = {
        "agent": _template(deployment.build_deployment(agent, config_hash=HASH, secrets_hash=HASH)),
        "reindex": _template(reindex.build_reindex_job(agent, settings_hash=HASH, image=IMAGE)),
    }
    if spec.knowledge.sources:
        job = ingest_job.build_ingest_job(agent, knowledge_hash=HASH, image=IMAGE)
        pods["ingest"] = _template(job)
    if agent.managed_db:
        pods["database"] = _template(postgres.build_postgres_statefulset(agent))
    if spec.backup.enabled:
        cron = backup.build_backup_cronjob(agent, image=IMAGE)["spec"]["jobTemplate"]
        pods["backup"] = _template(cron)
        pre = backup.build_pre_reindex_backup_job(agent, settings_hash=HASH, image=IMAGE)
        pods["pre-reindex-backup"] = _template(pre)
    if spec.restore is not None:
        pods["restore"] = _template(restore.build_restore_job(agent, spec.restore, image=IMAGE))
    return pods


def _template(workload: dict[str, Any]) -> PodTemplate:
    template: PodTemplate = workload["spec"]["template"]
    return template
