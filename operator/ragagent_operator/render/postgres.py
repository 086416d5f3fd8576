"""Managed PostgreSQL + pgvector: one StatefulSet with a data PVC, and its Service."""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import common, secrets

DB_USER = "ragagent"
DB_NAME = "ragagent"
POSTGRES_UID = 999  # the postgres user of the official images


def postgres_name(agent: common.Agent) -> str:
    return common.name_of(agent, "postgres")


def build_database_url(agent: common.Agent, password: str) -> str:
    """The URL the agent uses for the managed database (stored only in a Secret)."""
    host = f"{postgres_name(agent)}.{agent.namespace}.svc"
    return f"postgresql://{DB_USER}:{password}@{host}:{c.POSTGRES_PORT}/{DB_NAME}"


def build_postgres_service(agent: common.Agent) -> common.Manifest:
    """Headless: the StatefulSet's single pod gets a stable DNS name."""
    spec = {
        "clusterIP": "None",
        "selector": common.selector_labels(agent, c.COMPONENT_DATABASE),
        "ports": [{"name": "postgres", "port": c.POSTGRES_PORT, "protocol": "TCP"}],
    }
    return common.child("v1", "Service", _metadata(agent), spec=spec)


def build_postgres_statefulset(agent: common.Agent) -> common.Manifest:
    managed = agent.spec.database.managed
    assert managed is not None, "only rendered for database.managed"
    claim: dict[str, Any] = {
        "metadata": {"name": "data", "labels": common.labels(agent, c.COMPONENT_DATABASE)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": managed.storage}},
        },
    }
    if managed.storage_class_name:
        claim["spec"]["storageClassName"] = managed.storage_class_name
    spec = {
        "replicas": 1,
        "serviceName": postgres_name(agent),
        "selector": common.match_labels(agent, c.COMPONENT_DATABASE),
        "template": {
            "metadata": {"labels": common.labels(agent, c.COMPONENT_DATABASE)},
            "spec": _pod_spec(agent, managed.image),
        },
        "volumeClaimTemplates": [claim],
    }
    return common.child("apps/v1", "StatefulSet", _metadata(agent), spec=spec)


def _metadata(agent: common.Agent) -> dict[str, Any]:
    return common.metadata(agent, postgres_name(agent), c.COMPONENT_DATABASE)


def _pod_spec(agent: common.Agent, image: str) -> dict[str, Any]:
    """PostgreSQL writes only to its volume, the socket dir and /tmp: root FS stays read-only."""
    password = common.secret_env(
        "POSTGRES_PASSWORD", secrets.generated_secret_name(agent), c.KEY_DB_PASSWORD
    )
    container = {
        "name": "postgres",
        "image": image,
        "env": [
            {"name": "POSTGRES_USER", "value": DB_USER},
            {"name": "POSTGRES_DB", "value": DB_NAME},
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
            password,
        ],
        "ports": [{"name": "postgres", "containerPort": c.POSTGRES_PORT, "protocol": "TCP"}],
        "securityContext": common.restricted_container_security(),
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
        "readinessProbe": _pg_isready(period=5),
        "livenessProbe": _pg_isready(period=20),
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/postgresql/data"},
            {"name": "run", "mountPath": "/var/run/postgresql"},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108
        ],
    }
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": common.restricted_pod_security(POSTGRES_UID),
        "containers": [container],
        "volumes": [{"name": "run", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
        **common.build_node_placement(agent),
    }


def _pg_isready(*, period: int) -> dict[str, Any]:
    return {
        "exec": {"command": ["pg_isready", "-U", DB_USER, "-d", DB_NAME]},
        "periodSeconds": period,
        "timeoutSeconds": 5,
    }
