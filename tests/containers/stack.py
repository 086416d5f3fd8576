"""One RagAgent's rendered pods and the objects around them, run with podman.

``Stack`` holds a realistic RagAgent (managed database, a knowledge ConfigMap, backups),
the objects its pods read (the operator's ConfigMap, the generated Secret with values made
the way the operator makes them, the knowledge ConfigMap) and the host directories bound
to its claims. ``plan`` turns any manifest the operator renders into a ``RunPlan``.
"""

from __future__ import annotations

import base64
import datetime
import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ragagent_operator import constants as c
from ragagent_operator import sealing
from ragagent_operator.render import backup, configmap, postgres, postgres_tls, secrets
from ragagent_operator.render.common import Agent, Manifest, build_agent
from tests.support.office_files import build_pdf
from tests.support.podrun import model, runner, translate, workloads

NAME, NAMESPACE = "docs", "team"
KNOWLEDGE_CONFIG_MAP = "docs-knowledge"
COUNTED_TABLES = ("documents", "chunks", "conversations", "messages", "api_keys")
# Distinct topics, so a question finds one document and cites it.
KNOWLEDGE = {
    "lighthouse.md": "# The Brightwater lighthouse\n\nThe Brightwater lighthouse keeper winds "
    "the clockwork lamp every evening at dusk. The lamp is visible for 22 nautical miles.\n",
    "bakery.md": "# Sourdough at the Corner Bakery\n\nThe Corner Bakery feeds its sourdough "
    "starter with rye flour twice a day and bakes forty loaves before sunrise.\n",
    "glacier.md": "# Retreat of the Aletsch glacier\n\nThe Aletsch glacier lost about one "
    "kilometre of length between 1980 and 2020, measured from its tongue.\n",
}

# binaryData keys: files the kubelet mounts beside the text keys.
KNOWLEDGE_FILES = {
    "ferry.pdf": build_pdf(
        [
            "Timetable of the Lakeside ferry.",
            "The Lakeside ferry crosses to Eastport every forty minutes.",
        ]
    ),
}


def build_rag_agent(images: tuple[str, str], **spec: Any) -> Agent:
    """The RagAgent under test; ``images`` is (agent image, PostgreSQL image)."""
    agent_image, postgres_image = images
    body = {
        "metadata": {"name": NAME, "namespace": NAMESPACE, "uid": "uid-docs"},
        "spec": {
            "image": agent_image,
            "database": {"managed": {"image": postgres_image}},
            "knowledge": {"sources": [{"configMap": {"name": KNOWLEDGE_CONFIG_MAP}}]},
            "backup": {"enabled": True},
            **spec,
        },
    }
    return build_agent(body, default_image=agent_image)


def build_generated_secret(agent: Agent) -> Manifest:
    """The generated Secret as the operator fills it (secret_steps._generate)."""
    values = {key: sealing.generate_token(24) for key in secrets.generated_keys(agent)}
    values[c.KEY_SECRET_KEY] = sealing.generate_token(48)
    password = values[c.KEY_DB_PASSWORD].decode()
    values[c.KEY_DATABASE_URL] = postgres.build_database_url(agent, password).encode()
    return secrets.build_plain_secret(agent, secrets.generated_secret_name(agent), values)


@dataclass
class Stack:
    """The agent, the objects its pods read, and where their host directories go."""

    agent: Agent
    generated: Manifest
    workdir: Path
    knowledge: dict[str, str] = field(default_factory=lambda: dict(KNOWLEDGE))
    knowledge_files: dict[str, bytes] = field(default_factory=lambda: dict(KNOWLEDGE_FILES))
    _runs: itertools.count[int] = field(default_factory=itertools.count)
    # The operator's <name>-postgres-tls values; kept by with_spec, so every pod of the
    # stack trusts the CA of the one database pod the session runs.
    database_tls: dict[str, bytes] = field(default_factory=dict)
    # Secrets a test adds by name (a restore's age identity, ...); kept by with_spec.
    extra_secrets: dict[str, Manifest] = field(default_factory=dict)
    # ConfigMaps a test adds by name (an evaluation set, ...); kept by with_spec.
    extra_config_maps: dict[str, Manifest] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.database_tls:
            now = datetime.datetime.now(datetime.UTC)
            self.database_tls = postgres_tls.build_tls_values(self.agent, {}, now=now)

    @property
    def password(self) -> str:
        return secrets_value(self.generated, c.KEY_DB_PASSWORD)

    @property
    def ca_file(self) -> Path:
        """The database's CA certificate, on the host, for the test process's connections."""
        path = self.workdir / "postgres-ca.crt"
        path.write_bytes(self.database_tls[postgres_tls.KEY_CA_CERT])
        return path

    def host_db_url(self, *, user: str = postgres.DB_USER, password: str | None = None) -> str:
        """The managed database as the test process reaches it: through the pod's TLS front
        on the host's port (the pod shares the host), verified as the agent verifies it."""
        secret = self.password if password is None else password
        host = f"{postgres.postgres_name(self.agent)}.{NAMESPACE}.svc"
        query = f"hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={self.ca_file}"
        return f"postgresql://{user}:{secret}@{host}:{c.POSTGRES_PORT}/{postgres.DB_NAME}?{query}"

    @property
    def knowledge_keys(self) -> list[str]:
        """Every key of the knowledge ConfigMap, text (data) and file (binaryData)."""
        return [*self.knowledge, *self.knowledge_files]

    def cluster(self) -> model.Cluster:
        files = {key: base64.b64encode(data).decode() for key, data in self.knowledge_files.items()}
        knowledge = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "data": self.knowledge,
            "binaryData": files,
        }
        config_maps = {
            configmap.config_map_name(self.agent): configmap.build_config_map(self.agent),
            KNOWLEDGE_CONFIG_MAP: knowledge,
            postgres.init_config_map_name(self.agent): postgres.build_postgres_init_config_map(
                self.agent
            ),
            **self.extra_config_maps,
        }
        claims = {
            f"data-{postgres.postgres_name(self.agent)}-0": self._claim("data"),
            backup.backup_claim_name(self.agent): self._claim("backups"),
        }
        service = f"{postgres.postgres_name(self.agent)}.{NAMESPACE}.svc"
        tls = postgres_tls.build_tls_secret(self.agent, self.database_tls)
        return model.Cluster(
            config_maps=config_maps,
            secrets={
                self.generated["metadata"]["name"]: self.generated,
                tls["metadata"]["name"]: tls,
                **self.extra_secrets,
            },
            claims=claims,
            hosts={service: "127.0.0.1"},
        )

    def _claim(self, name: str) -> Path:
        path = self.workdir / "claims" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def backups_dir(self) -> Path:
        return self._claim("backups")

    def plan(self, manifest: Manifest, *, container: str | None = None) -> model.RunPlan:
        """The plan for the pod the workload controller would start from ``manifest``."""
        host_dir = self.workdir / "pods" / f"{next(self._runs):03d}-{manifest['metadata']['name']}"
        return translate.build_run_plan(
            workloads.pod_spec_of(manifest),
            pod=workloads.pod_identity(manifest),
            cluster=self.cluster(),
            host_dir=host_dir,
            container=container,
        )

    def plan_pod(self, manifest: Manifest) -> list[model.RunPlan]:
        """A plan per container of the pod, sharing its volumes (emptyDirs included)."""
        host_dir = self.workdir / "pods" / f"{next(self._runs):03d}-{manifest['metadata']['name']}"
        return [
            translate.build_run_plan(
                workloads.pod_spec_of(manifest),
                pod=workloads.pod_identity(manifest),
                cluster=self.cluster(),
                host_dir=host_dir,
                container=container["name"],
            )
            for container in workloads.pod_spec_of(manifest)["containers"]
        ]

    def run(self, manifest: Manifest, *, timeout: float = 300.0) -> runner.Finished:
        """Runs a one-shot pod (a Job's or CronJob's) to its end."""
        return runner.run_to_completion(self.plan(manifest), timeout=timeout)

    def with_spec(self, **spec: Any) -> Stack:
        """The same stack (Secret, volumes) for a changed RagAgent spec."""
        return replace(self, agent=build_rag_agent(self.images, **spec))

    @property
    def images(self) -> tuple[str, str]:
        managed = self.agent.spec.database.managed
        assert managed is not None
        return self.agent.image, managed.image


def secrets_value(secret: Manifest, key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def row_counts(url: str, tables: tuple[str, ...] = COUNTED_TABLES) -> dict[str, int]:
    """Rows per table of the database at ``url``."""
    with psycopg.connect(url) as conn:
        return {table: _count(conn, table) for table in tables}


def _count(conn: psycopg.Connection[tuple[Any, ...]], table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])
