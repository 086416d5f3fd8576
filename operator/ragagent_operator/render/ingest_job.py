"""The knowledge ingestion Job, named by the content hash of what it ingests.

A new hash means new content: the reconciler creates the Job for that hash and
deletes Jobs of older hashes.  Jobs are immutable, so an unchanged hash never
causes a write.
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import configmap, deployment, secrets
from ragagent_operator.render.common import (
    Agent,
    Manifest,
    labels,
    metadata,
    name_of,
    restricted_container_security,
    restricted_pod_security,
)


def ingest_job_name(agent: Agent, knowledge_hash: str) -> str:
    return name_of(agent, f"ingest-{knowledge_hash[:10]}")


def build_ingest_job(agent: Agent, *, knowledge_hash: str, image: str) -> Manifest:
    """``knowledge_hash`` covers the sources, their ConfigMaps' data and the chunking."""
    sources = agent.spec.knowledge.sources
    volumes = [{"name": "tmp", "emptyDir": {}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108
    args = ["ingest"]
    for index, source in enumerate(sources):
        if source.config_map is not None:
            volumes.append({"name": f"src{index}", "configMap": {"name": source.config_map.name}})
            mounts.append({"name": f"src{index}", "mountPath": f"/knowledge/{index}"})
            args.append(f"/knowledge/{index}")
        elif source.url is not None:
            args.append(source.url)
    meta = metadata(agent, ingest_job_name(agent, knowledge_hash), c.COMPONENT_INGEST)
    meta["annotations"] = {c.ANNOTATION_KNOWLEDGE_HASH: knowledge_hash}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 3600,
            "template": {
                "metadata": {"labels": labels(agent, c.COMPONENT_INGEST)},
                "spec": build_command_pod(
                    agent, name="ingest", image=image, args=args, mounts=mounts, volumes=volumes
                ),
            },
        },
    }


def build_command_pod(
    agent: Agent,
    *,
    name: str,
    image: str,
    args: list[str],
    mounts: list[Any],
    volumes: list[Any],
) -> dict[str, Any]:
    """A one-shot ``ragagent <args>`` pod with the agent's settings, hardened like the agent's.

    Shared by the ingest and re-index Jobs so both run with the same identity,
    environment and security context. They get the Secrets those commands read,
    not the server's signing secret.
    """
    container = {
        "name": name,
        "image": image,
        "command": ["ragagent"],
        "args": args,
        "envFrom": [{"configMapRef": {"name": configmap.config_map_name(agent)}}],
        "env": [ref.build_env_var() for ref in secrets.data_command_refs(agent)],
        "resources": deployment.DEFAULT_RESOURCES,
        "securityContext": restricted_container_security(),
        "volumeMounts": mounts,
    }
    return {
        "restartPolicy": "Never",
        "serviceAccountName": name_of(agent),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": restricted_pod_security(),
        "containers": [container],
        "volumes": volumes,
    }
