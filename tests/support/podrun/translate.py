"""A rendered pod spec to a ``RunPlan`` (pure): the ``podman run`` options and host layout.

Kubernetes semantics kept here:

- ``command`` replaces the image's ENTRYPOINT and ``args`` its CMD; a ``command`` without
  ``args`` runs without the image's CMD (podman drops CMD once ``--entrypoint`` is given).
  Both are ``$(VAR)``-expanded against the container's environment.
- The pod shares the host's network (``--network host``), so ``containerPort`` is the port
  on 127.0.0.1; Service names resolve through ``Cluster.hosts``.
- A termination-message file (0666) is mounted at ``terminationMessagePath``.
- The ServiceAccount token is projected unless ``automountServiceAccountToken`` is false.

Ignored on purpose: scheduling fields (there is one node), ``imagePullPolicy`` (images are
local, ``--pull=never``), ``enableServiceLinks`` (no Services but ``kubernetes`` are
modelled), ``restartPolicy`` (recorded; a restart would hide the crash a test looks for),
memory requests and ``ephemeral-storage`` (scheduling and eviction only).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.podrun import containers, env, model, security, volumes

SCHEDULING_FIELDS = {
    "nodeSelector",
    "affinity",
    "tolerations",
    "topologySpreadConstraints",
    "priorityClassName",
    "schedulerName",
    "imagePullSecrets",
}
POD_FIELDS = {
    "containers",
    "volumes",
    "securityContext",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "enableServiceLinks",
    "hostAliases",
    "hostname",
    *SCHEDULING_FIELDS,
}
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_GRACE_SECONDS = 30


def new_stamp(now: datetime | None = None) -> str:
    """An atomic-writer directory name: ``..2006_01_02_15_04_05.<random digits>``."""
    moment = now or datetime.now(UTC)
    return moment.strftime("..%Y_%m_%d_%H_%M_%S.") + str(secrets.randbelow(10**9))


def build_run_plan(
    pod_spec: Mapping[str, Any],
    *,
    pod: model.PodIdentity,
    cluster: model.Cluster,
    host_dir: Path,
    container: str | None = None,
    stamp: str | None = None,
) -> model.RunPlan:
    """The plan for one container of ``pod_spec``; ``host_dir`` holds this run's volumes.

    Raises UnsupportedFieldError for a field it does not mirror and MissingReferenceError
    for a missing ConfigMap, Secret, key or claim that is not optional.
    """
    model.require_known(pod_spec, POD_FIELDS, "pod spec")
    spec = pick_container(pod_spec, container)
    context = security.effective(
        pod_spec.get("securityContext") or {}, spec.get("securityContext") or {}
    )
    who = security.identity(context)
    sa = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default"
    environment = env.build_env(spec, cluster=cluster, pod=pod, sa=sa)
    where = _Where(pod, host_dir, stamp or new_stamp())
    mounts, layout = _volumes(pod_spec, spec, cluster, where, context)
    command = containers.command_and_args(spec, environment)
    options = [
        *_pod_options(pod_spec, pod, cluster, name=f"{pod.name}-{spec['name']}"),
        *security.user_options(context),
        *security.capability_options(context),
        *security.hardening_options(context),
        *containers.resource_options(spec.get("resources") or {}),
        *([f"--workdir={spec['workingDir']}"] if spec.get("workingDir") else []),
        *command.options,
        *mounts,
        *(f"--env={key}={value}" for key, value in sorted(environment.items())),
    ]
    termination = host_dir / "termination-log"
    options.append(f"--mount=type=bind,source={termination},destination={_message_path(spec)}")
    layout += model.HostLayout(files=(model.PlannedFile(termination, b"", 0o666),))
    return _plan(pod_spec, spec, who, options, command.args, environment, layout, termination)


def pick_container(pod_spec: Mapping[str, Any], name: str | None) -> Mapping[str, Any]:
    """The named container, or the only one."""
    found = [c for c in pod_spec["containers"] if name is None or c["name"] == name]
    if len(found) != 1:
        names = [c["name"] for c in pod_spec["containers"]]
        raise model.TranslationError(f"choose one container of {names} (asked for {name!r})")
    chosen: Mapping[str, Any] = found[0]
    model.require_known(chosen, containers.CONTAINER_FIELDS, f"container {chosen['name']!r}")
    return chosen


def _pod_options(
    pod_spec: Mapping[str, Any], pod: model.PodIdentity, cluster: model.Cluster, *, name: str
) -> list[str]:
    hosts = dict(cluster.hosts)
    for alias in pod_spec.get("hostAliases") or []:
        model.require_known(alias, {"ip", "hostnames"}, "hostAliases")
        hosts.update({hostname: alias["ip"] for hostname in alias["hostnames"]})
    grace = _grace_seconds(pod_spec)
    return [
        f"--name={name}",
        f"--hostname={pod_spec.get('hostname') or pod.name}",
        "--network=host",
        "--pull=never",
        f"--stop-timeout={grace}",
        *(f"--add-host={host}:{ip}" for host, ip in sorted(hosts.items())),
    ]


def _grace_seconds(pod_spec: Mapping[str, Any]) -> int:
    return int(pod_spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS))


def _message_path(spec: Mapping[str, Any]) -> str:
    policy = spec.get("terminationMessagePolicy", "File")
    if policy not in ("File", "FallbackToLogsOnError"):
        raise model.UnsupportedFieldError(f"terminationMessagePolicy {policy!r}")
    return str(spec.get("terminationMessagePath", "/dev/termination-log"))


@dataclass(frozen=True)
class _Where:
    """The pod, and where and when its volumes are written."""

    pod: model.PodIdentity
    host_dir: Path
    stamp: str


def _volumes(
    pod_spec: Mapping[str, Any],
    spec: Mapping[str, Any],
    cluster: model.Cluster,
    where: _Where,
    context: Mapping[str, Any],
) -> tuple[list[str], model.HostLayout]:
    """Mount options and host layout of the pod's volumes (plus the ServiceAccount token)."""
    ownership = volumes.Ownership(
        context.get("fsGroup"), security.fs_group_change_on_root_mismatch(context)
    )
    built = {
        item["name"]: volumes.build_volume(
            item, cluster=cluster, host_dir=where.host_dir, ownership=ownership, stamp=where.stamp
        )
        for item in pod_spec.get("volumes") or []
    }
    mounts: list[Mapping[str, Any]] = list(spec.get("volumeMounts") or [])
    token = _service_account_volume(pod_spec, cluster, where, ownership)
    if token is not None:
        built[token.name] = token
        mounts.append({"name": token.name, "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True})
    layout = model.HostLayout()
    for volume in built.values():
        layout += volume.layout
    layout += volumes.subpath_dirs(mounts, built)
    return volumes.mount_options(mounts, built), layout


def _service_account_volume(
    pod_spec: Mapping[str, Any],
    cluster: model.Cluster,
    where: _Where,
    ownership: volumes.Ownership,
) -> volumes.Volume | None:
    """The kube-api-access projection: token, ca.crt and namespace; None when not mounted."""
    if pod_spec.get("automountServiceAccountToken") is False:
        return None
    name = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default"
    credentials = cluster.service_accounts.get(name)
    if credentials is None or cluster.api_server is None:
        raise model.MissingReferenceError(f"no token (or API server) for ServiceAccount {name!r}")
    projected = credentials.projected(where.pod.namespace)
    files = {name: (data, volumes.DEFAULT_MODE) for name, data in projected.items()}
    root = where.host_dir / "volumes" / "kube-api-access"
    layout = volumes.atomic_layout(root, files, stamp=where.stamp, gid=ownership.gid)
    return volumes.Volume("kube-api-access", root, read_only=True, layout=layout)


def _plan(
    pod_spec: Mapping[str, Any],
    spec: Mapping[str, Any],
    who: security.Identity,
    options: list[str],
    args: list[str],
    environment: Mapping[str, str],
    layout: model.HostLayout,
    termination: Path,
) -> model.RunPlan:
    ports = containers.ports(spec)
    return model.RunPlan(
        name=options[0].removeprefix("--name="),
        image=str(spec["image"]),
        options=tuple(options),
        command=tuple(args),
        env=dict(environment),
        layout=layout,
        ports=ports,
        termination_log=termination,
        termination_policy=str(spec.get("terminationMessagePolicy", "File")),
        restart_policy=str(pod_spec.get("restartPolicy", "Always")),
        run_as_user=who.user,
        run_as_non_root=who.run_as_non_root,
        pre_stop_seconds=containers.pre_stop_seconds(spec),
        grace_seconds=_grace_seconds(pod_spec),
        startup=containers.probe(spec.get("startupProbe"), ports),
        readiness=containers.probe(spec.get("readinessProbe"), ports),
        liveness=containers.probe(spec.get("livenessProbe"), ports),
    )
