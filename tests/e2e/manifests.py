"""Pure builders of what the journey applies: RagAgents pinned to the real node, and the
PostgreSQL a user would run beside them for an external database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support import node_config

DB_NAME = "ragagent"
DB_USER = "ragagent"
DB_PORT = 5432
DB_SERVICE = "db"
POSTGRES_UID = 999  # the postgres user of the official images, as the managed database runs
# The label that lets a RagAgent use a Secret or ConfigMap it references.
USE_LABEL = {"ragagent.dev/use": "true"}
# A RagAgent on the external PostgreSQL pod: (name, URL Secret) -> its body (the conftest's
# ``external_agent`` fixture makes one).
ExternalAgent = Callable[[str, str], dict[str, Any]]


def build_real_node_scheduling(node_name: str) -> dict[str, Any]:
    """nodeSelector and tolerations for this session's real node, by its hostname too: a
    pod on another real node would not find the images imported into this one."""
    key = node_config.REAL_NODE_LABEL
    return {
        "nodeSelector": {key: "true", "kubernetes.io/hostname": node_name},
        "tolerations": [{"key": key, "operator": "Exists", "effect": "NoSchedule"}],
    }


def build_database_url(password: str, host: str = DB_SERVICE) -> str:
    return f"postgresql://{DB_USER}:{password}@{host}:{DB_PORT}/{DB_NAME}"


def build_external_database(url_secret: str) -> dict[str, Any]:
    """spec.database for the external PostgreSQL pod, its URL in the Secret ``url_secret``.
    That pod serves no TLS (the bundled server has no OpenSSL), so TLS is waived."""
    return {"external": {"secretRef": {"name": url_secret, "key": "url"}, "tlsWaived": True}}


def build_url_secret(name: str, url: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": USE_LABEL},
        "stringData": {"url": url},
    }


def build_postgres_pod(
    *, image: str, node_name: str, password_secret: str, password_key: str
) -> dict[str, Any]:
    """The project's PostgreSQL image on an emptyDir, restricted like the managed one."""
    password = {"secretKeyRef": {"name": password_secret, "key": password_key}}
    container = {
        "name": "postgres", "image": image, "imagePullPolicy": "Never",
        "env": [
            {"name": "POSTGRES_USER", "value": DB_USER},
            {"name": "POSTGRES_DB", "value": DB_NAME},
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
            {"name": "POSTGRES_PASSWORD", "valueFrom": password},
        ],
        "ports": [{"name": "postgres", "containerPort": DB_PORT}],
        "readinessProbe": {
            "exec": {"command": ["pg_isready", "-U", DB_USER, "-d", DB_NAME]},
            "periodSeconds": 2,
        },
        "securityContext": {
            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": name, "mountPath": path}
            for name, path in (
                ("data", "/var/lib/postgresql/data"), ("run", "/var/run/postgresql"),
                ("tmp", "/tmp"),
            )
        ],
    }  # fmt: skip
    spec = {
        **build_real_node_scheduling(node_name),
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 2,
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": POSTGRES_UID, "runAsGroup": POSTGRES_UID,
            "fsGroup": POSTGRES_UID, "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": name, "emptyDir": {}} for name in ("data", "run", "tmp")],
    }  # fmt: skip
    metadata = {"name": DB_SERVICE, "labels": {"app": DB_SERVICE}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def build_db_service() -> dict[str, Any]:
    """Headless: the name resolves to the pod's IP, with or without kube-proxy."""
    spec = {
        "clusterIP": "None",
        "selector": {"app": DB_SERVICE},
        "ports": [{"port": DB_PORT, "targetPort": DB_PORT}],
    }
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": DB_SERVICE}, "spec": spec}


def build_ragagent(
    name: str, *, image: str, node_name: str, database: dict[str, Any]
) -> dict[str, Any]:
    """A RagAgent of one replica on the real node; ``database`` is its spec.database."""
    spec = {
        **build_real_node_scheduling(node_name),
        "image": image,
        "replicas": 1,
        "database": database,
    }
    return {
        "apiVersion": "ragagent.dev/v1alpha1",
        "kind": "RagAgent",
        "metadata": {"name": name},
        "spec": spec,
    }
