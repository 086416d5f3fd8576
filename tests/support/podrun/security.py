"""The pod and container securityContext as podman options.

Container fields win over pod fields where both exist. Kubernetes' defaults differ from
podman's and are made explicit: the runtime's default capability set is containerd's, an
unset seccomp profile is Unconfined (the kubelet's default without ``--seccomp-default``),
and a read-only root file system gets no tmpfs on /tmp, /run and /var/tmp (podman adds
those unless told not to).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.support.podrun import model

POD_FIELDS = {
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "fsGroup",
    "fsGroupChangePolicy",
    "supplementalGroups",
    "seccompProfile",
}
CONTAINER_FIELDS = {
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "capabilities",
    "privileged",
    "seccompProfile",
}
SHARED_FIELDS = ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile")
# containerd's default capability set (pkg/oci/spec.go): the set a pod starts from.
RUNTIME_DEFAULT_CAPABILITIES = (
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
)


@dataclass(frozen=True)
class Identity:
    """Who the container runs as; ``user`` None means the image's user."""

    user: int | None
    group: int | None
    fs_group: int | None
    run_as_non_root: bool


def effective(pod: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, Any]:
    """The merged context: pod values, overridden by the container's."""
    model.require_known(pod, POD_FIELDS, "pod securityContext")
    model.require_known(container, CONTAINER_FIELDS, "container securityContext")
    merged = {key: pod[key] for key in POD_FIELDS if key in pod}
    merged.update({key: container[key] for key in CONTAINER_FIELDS if key in container})
    return merged


def identity(context: Mapping[str, Any]) -> Identity:
    user, group = context.get("runAsUser"), context.get("runAsGroup")
    if group is not None and user is None:
        raise model.UnsupportedFieldError("securityContext: runAsGroup without runAsUser")
    non_root = bool(context.get("runAsNonRoot"))
    if non_root and user == 0:
        raise model.TranslationError("securityContext: runAsNonRoot with runAsUser 0")
    return Identity(user, group, context.get("fsGroup"), non_root)


def user_options(context: Mapping[str, Any]) -> list[str]:
    """``--user`` and the supplementary groups (fsGroup and supplementalGroups)."""
    who = identity(context)
    options = []
    if who.user is not None:
        suffix = f":{who.group}" if who.group is not None else ""
        options.append(f"--user={who.user}{suffix}")
    groups = [who.fs_group, *(context.get("supplementalGroups") or [])]
    options += [f"--group-add={gid}" for gid in groups if gid is not None]
    return options


def capability_options(context: Mapping[str, Any]) -> list[str]:
    """Drop everything, then add exactly the set the container would have under containerd."""
    caps = context.get("capabilities") or {}
    model.require_known(caps, {"add", "drop"}, "securityContext.capabilities")
    drop = {_cap(name) for name in caps.get("drop") or []}
    add = {_cap(name) for name in caps.get("add") or []}
    base = set() if "ALL" in drop else set(RUNTIME_DEFAULT_CAPABILITIES) - drop
    kept = base | (add - {"ALL"})
    if "ALL" in add:
        raise model.UnsupportedFieldError("securityContext.capabilities: add ALL")
    return ["--cap-drop=all", *(f"--cap-add={name}" for name in sorted(kept))]


def _cap(name: str) -> str:
    return str(name).upper().removeprefix("CAP_")


def hardening_options(context: Mapping[str, Any]) -> list[str]:
    """Privilege escalation, read-only root file system and seccomp."""
    if context.get("privileged"):
        raise model.UnsupportedFieldError("securityContext: privileged")
    options = ["--read-only-tmpfs=false"]
    if context.get("allowPrivilegeEscalation") is False:
        options.append("--security-opt=no-new-privileges")
    if context.get("readOnlyRootFilesystem"):
        options.append("--read-only")
    return options + _seccomp(context.get("seccompProfile"))


def _seccomp(profile: Mapping[str, Any] | None) -> list[str]:
    model.require_known(profile or {}, {"type"}, "seccompProfile")
    kind = (profile or {}).get("type", "Unconfined")
    if kind == "RuntimeDefault":
        return []  # podman's default profile
    if kind == "Unconfined":
        return ["--security-opt=seccomp=unconfined"]
    raise model.UnsupportedFieldError(f"seccompProfile type {kind!r}")


def fs_group_change_on_root_mismatch(context: Mapping[str, Any]) -> bool:
    policy = context.get("fsGroupChangePolicy", "Always")
    if policy not in ("Always", "OnRootMismatch"):
        raise model.UnsupportedFieldError(f"fsGroupChangePolicy {policy!r}")
    return bool(policy == "OnRootMismatch")
