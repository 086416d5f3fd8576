#!/usr/bin/env python3
"""Prints, as one YAML stream, every child the operator renders for the sample RagAgents.

`make scan` runs checkov and kubernetes-validate on this output, so the objects the operator
creates in users' clusters are held to the same bar as the chart. Only the operator's pure
``build_*`` functions run here: no cluster, no I/O. The full sample (external database,
autoscaling, backups, monitoring) and the minimal one (managed PostgreSQL) cover every kind.

Usage: hack/render-operator-children.py [SAMPLE.yaml ...]   (default: manifests/samples/*)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from ragagent_operator.render import (
    backup,
    common,
    configmap,
    deployment,
    hpa,
    ingest_job,
    monitoring,
    networkpolicy,
    pdb,
    postgres,
    secrets,
    service,
    serviceaccount,
    usage_job,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = (REPO_ROOT / "manifests/samples/full.yaml", REPO_ROOT / "manifests/samples/minimal.yaml")
NAMESPACE = "scan"
# A syntactically valid ciphertext; checkov and the schemas only look at the object's shape.
SEALED_PLACEHOLDER = "AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq"


def load_agent(path: Path) -> common.Agent:
    body = yaml.safe_load(path.read_text())
    body["metadata"] = {**body["metadata"], "namespace": NAMESPACE, "uid": "0000-scan"}
    return common.build_agent(body, default_image="ghcr.io/ragagent/ragagent:0.1.0")


def build_children(agent: common.Agent) -> list[dict[str, Any]]:
    """Every child the reconcile steps would apply for ``agent``, in their order."""
    children: list[dict[str, Any] | None] = [
        serviceaccount.build_service_account(agent),
        configmap.build_config_map(agent),
        secrets.build_sealed_secret(agent, f"{agent.name}-generated", {"k": SEALED_PLACEHOLDER}),
        deployment.build_deployment(agent, config_hash="0" * 16, secrets_hash="0" * 16),
        service.build_service(agent),
        pdb.build_pdb(agent),
        *networkpolicy.build_network_policies(agent),
    ]
    if agent.managed_db:
        children += [
            postgres.build_postgres_service(agent),
            postgres.build_postgres_statefulset(agent),
        ]
    if agent.spec.autoscaling.enabled:
        children.append(hpa.build_hpa(agent))
    if agent.spec.knowledge.sources:
        children.append(ingest_job.build_ingest_job(agent, knowledge_hash="0", image=agent.image))
    if agent.spec.backup.enabled:
        children += [
            backup.build_backup_pvc(agent),
            backup.build_backup_cronjob(agent, image=agent.image),
        ]
    if usage_job.is_reporting_usage(agent):
        children.append(usage_job.build_usage_cronjob(agent, image=agent.image))
    if agent.spec.observability.service_monitor:
        children += [
            monitoring.build_service_monitor(agent),
            monitoring.build_prometheus_rule(agent),
        ]
    return [child for child in children if child is not None]


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or list(SAMPLES)
    manifests = [child for path in paths for child in build_children(load_agent(path))]
    sys.stdout.write(yaml.safe_dump_all(manifests, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
