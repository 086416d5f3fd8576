"""API group, names, label and annotation keys shared by every module."""

from __future__ import annotations

from typing import Final

GROUP: Final = "ragagent.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "RagAgent"
PLURAL: Final = "ragagents"
SINGULAR: Final = "ragagent"
SHORT_NAMES: Final = ("rag",)
CATEGORIES: Final = ("ai",)

FIELD_MANAGER: Final = "ragagent-operator"
APP_NAME: Final = "ragagent"
MANAGED_BY: Final = "ragagent-operator"

# Kubernetes' recommended labels, on every child and pod.
K8S_LABELS: Final = "app.kubernetes.io"
LABEL_NAME: Final = f"{K8S_LABELS}/name"
LABEL_INSTANCE: Final = f"{K8S_LABELS}/instance"
LABEL_COMPONENT: Final = f"{K8S_LABELS}/component"
LABEL_PART_OF: Final = f"{K8S_LABELS}/part-of"
LABEL_MANAGED_BY: Final = f"{K8S_LABELS}/managed-by"

# Only Secrets and ConfigMaps carrying this label with value "true" may be referenced by a
# RagAgent: edit rights on a RagAgent must not be enough to expose any Secret of the namespace.
LABEL_USE: Final = f"{GROUP}/use"
LABEL_USE_VALUE: Final = "true"


class Annotation:
    """The annotation keys that record what a child was made from: one table, read as
    ``c.Annotation.SPEC_HASH`` (a namespace of plain strings, so manifests stay plain
    data that JSON and YAML dump as they are)."""

    SPEC_HASH = f"{GROUP}/spec-hash"  # the desired object, on every child (drift)
    CONFIG_HASH = f"{GROUP}/config-hash"  # on agent pods: a ConfigMap change rolls them
    SECRETS_HASH = f"{GROUP}/secrets-hash"  # on agent pods: a Secret change rolls them
    KNOWLEDGE_HASH = f"{GROUP}/knowledge-hash"  # ingest Jobs
    INDEX_HASH = f"{GROUP}/index-settings-hash"  # reindex and pre-reindex backup Jobs
    RESTORE_REQUEST = f"{GROUP}/restore-request-hash"  # restore Jobs


APP_PORT: Final = 8000
METRICS_PORT: Final = 9090
POSTGRES_PORT: Final = 5432
DNS_PORT: Final = 53

# Keys inside the generated Secret (sealed or plain), one per generated value.
KEY_SECRET_KEY: Final = "secret-key"  # noqa: S105 (a key name)
# Never generated: set by hand while the API-key pepper (secret-key) is rotated.
KEY_SECRET_KEY_PREVIOUS: Final = "secret-key-previous"  # noqa: S105 (a key name)
KEY_DB_PASSWORD: Final = "db-password"  # noqa: S105 (a key name)
# The managed PostgreSQL's superuser: read by the database pod only, never by an agent pod.
KEY_DB_SUPERUSER_PASSWORD: Final = "db-superuser-password"  # noqa: S105 (a key name)
KEY_DATABASE_URL: Final = "database-url"
KEY_LLM_API_KEY: Final = "api-key"

COMPONENT_AGENT: Final = "agent"
COMPONENT_DATABASE: Final = "database"
COMPONENT_INGEST: Final = "ingest"
COMPONENT_BACKUP: Final = "backup"
COMPONENT_REINDEX: Final = "reindex"
COMPONENT_RESTORE: Final = "restore"
COMPONENT_USAGE: Final = "usage"
# The components whose pods are one-shot Jobs are listed once, with what each
# reports and triggers, in ``ragagent_operator.jobs``.

# The Job controller labels a Job's pods with the Job's name.
LABEL_JOB_NAME: Final = "batch.kubernetes.io/job-name"
