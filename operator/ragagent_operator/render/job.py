"""The one-shot ``ragagent <command>`` pods and their Jobs, shared by every Job the operator runs.

Ingest, re-index, backup (the CronJob's Jobs and the pre-reindex one) and restore
pods run with the agent's ServiceAccount (no token), its settings ConfigMap, the
Secrets their command reads (never the server's signing secret), the restricted
security context and a private /tmp; each Job module gives only its differences:
command, Secrets, resources, volumes, retries and deadline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragagent_operator.render import common, configmap, postgres_tls, secrets

# The kubelet's default path, set explicitly: commands that report write their result line there.
TERMINATION_MESSAGE_PATH = "/dev/termination-log"


@dataclass(frozen=True)
class Volume:
    """A pod volume and where the container mounts it (read-only: both sides say so)."""

    name: str
    source: dict[str, Any]  # e.g. {"emptyDir": {}} or {"configMap": {"name": ...}}
    path: str
    read_only: bool = False

    def build_volume(self) -> dict[str, Any]:
        return {"name": self.name, **self.source}

    def build_mount(self) -> dict[str, Any]:
        mount: dict[str, Any] = {"name": self.name, "mountPath": self.path}
        if self.read_only:
            mount["readOnly"] = True
        return mount


TMP = Volume("tmp", {"emptyDir": {}}, "/tmp")  # noqa: S108 (a private emptyDir)


@dataclass(frozen=True)
class Run:
    """How one kind of Job runs: its pods' component, the annotation that records what it
    was made for (a content or request hash), its retries and its deadline."""

    component: str
    annotation: str
    backoff_limit: int
    deadline_seconds: int


def build_job_pod(
    agent: common.Agent,
    *,
    name: str,
    image: str,
    args: list[str],
    refs: Sequence[secrets.SecretRef],
    resources: dict[str, Any],
    volumes: Sequence[Volume],
    reports: bool = False,
) -> dict[str, Any]:
    """The pod spec of a ``ragagent <args>`` Job: container ``name``, env from ``refs``.

    ``reports``: the command leaves its final JSON line as the container's termination
    message, so the operator reads the result from the pod status.
    """
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "command": ["ragagent"],
        "args": args,
        "envFrom": [{"configMapRef": {"name": configmap.config_map_name(agent)}}],
        "env": secrets.build_env(list(refs)),
        "resources": resources,
        "securityContext": common.restricted_container_security(),
    }
    if reports:
        container["terminationMessagePath"] = TERMINATION_MESSAGE_PATH
        container["terminationMessagePolicy"] = "FallbackToLogsOnError"
    # The managed database's CA, for a command that reaches it (never its keys).
    ca = secrets.needs_database_ca(list(refs))
    ca_mounts = postgres_tls.build_client_mounts(agent) if ca else []
    ca_volumes = postgres_tls.build_client_volumes(agent) if ca else []
    container["volumeMounts"] = [volume.build_mount() for volume in volumes] + ca_mounts
    return {
        "restartPolicy": "Never",
        "serviceAccountName": common.name_of(agent),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": common.restricted_pod_security(),
        "containers": [container],
        "volumes": [volume.build_volume() for volume in volumes] + ca_volumes,
        **common.build_node_placement(agent),
    }


def build_job_spec(agent: common.Agent, run: Run, pod: dict[str, Any]) -> dict[str, Any]:
    """A Job's spec (also a CronJob's jobTemplate spec): retries, deadline, labelled pods."""
    labels = common.labels(agent, run.component)
    return {
        "backoffLimit": run.backoff_limit,
        "activeDeadlineSeconds": run.deadline_seconds,
        "template": {"metadata": {"labels": labels}, "spec": pod},
    }


def build_job(
    agent: common.Agent, run: Run, *, name: str, made_for: str, pod: dict[str, Any]
) -> common.Manifest:
    """A ``run`` Job of ``agent`` named ``name``, annotated with the hash it was ``made_for``."""
    meta = common.metadata(agent, name, run.component, annotations={run.annotation: made_for})
    return common.child("batch/v1", "Job", meta, spec=build_job_spec(agent, run, pod))


def build_cronjob(
    agent: common.Agent,
    run: Run,
    *,
    name: str,
    schedule: str,
    pod: dict[str, Any],
    suspend: bool,
    history: int,
    starting_deadline_seconds: int,
) -> common.Manifest:
    """A CronJob of ``run`` Jobs that never overlap (``Forbid``): a second run of a command
    that writes (sync) or reads the whole database (usage, backup) while one is still busy
    only adds load. ``history`` runs of each outcome are kept, the newest being what the
    status reads."""
    spec = {
        "schedule": schedule,
        "suspend": suspend,
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": starting_deadline_seconds,
        "successfulJobsHistoryLimit": history,
        "failedJobsHistoryLimit": history,
        "jobTemplate": {
            "metadata": {"labels": common.labels(agent, run.component)},
            "spec": build_job_spec(agent, run, pod),
        },
    }
    meta = common.metadata(agent, name, run.component)
    return common.child("batch/v1", "CronJob", meta, spec=spec)
