"""The translator's inputs (the cluster around a pod), its output (a RunPlan) and its errors."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Manifest = Mapping[str, Any]


class TranslationError(ValueError):
    """The pod spec cannot be run as given; the message names the field."""


class UnsupportedFieldError(TranslationError):
    """A field the translator does not mirror. Raised instead of dropping it silently."""


class MissingReferenceError(TranslationError):
    """A ConfigMap, Secret, key or claim the pod needs is missing and not optional.

    The kubelet would not start the container either (CreateContainerConfigError).
    """


def require_known(obj: Mapping[str, Any], known: Collection[str], where: str) -> None:
    """Raise UnsupportedFieldError when ``obj`` has a key outside ``known``."""
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise UnsupportedFieldError(f"{where}: unsupported field(s): {', '.join(unknown)}")


@dataclass(frozen=True)
class PodIdentity:
    """The pod's metadata, as the downward API and the hostname see it."""

    name: str
    namespace: str
    uid: str = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class ServiceAccountCredentials:
    """What the kubelet projects into ``/var/run/secrets/kubernetes.io/serviceaccount``."""

    token: str
    ca_pem: bytes

    def projected(self, namespace: str) -> dict[str, bytes]:
        """The kube-api-access volume's files for a pod in ``namespace``, by file name."""
        return {
            "token": self.token.encode(),
            "ca.crt": self.ca_pem,
            "namespace": namespace.encode(),
        }


@dataclass(frozen=True)
class Cluster:
    """What the cluster around the pod provides.

    ``claims`` maps a PersistentVolumeClaim name to the host directory of its bound volume;
    ``hosts`` maps DNS names (Services) to addresses; ``api_server`` is the host and port the
    ``kubernetes`` Service leads to (the kubelet puts them in every container's environment);
    ``service_accounts`` holds the credentials of each ServiceAccount by name.
    """

    config_maps: Mapping[str, Manifest] = field(default_factory=dict)
    secrets: Mapping[str, Manifest] = field(default_factory=dict)
    claims: Mapping[str, Path] = field(default_factory=dict)
    hosts: Mapping[str, str] = field(default_factory=dict)
    api_server: tuple[str, int] | None = None
    service_accounts: Mapping[str, ServiceAccountCredentials] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedDir:
    """A directory made when missing; ``mode`` None copies its parent's mode and group."""

    path: Path
    mode: int | None
    gid: int | None = None


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    content: bytes
    mode: int
    gid: int | None = None


@dataclass(frozen=True)
class PlannedLink:
    path: Path
    target: str


@dataclass(frozen=True)
class PlannedOwnership:
    """The kubelet's fsGroup pass over an existing volume (a bound PersistentVolume)."""

    path: Path
    gid: int
    read_only: bool
    only_on_root_mismatch: bool = False


@dataclass(frozen=True)
class HostLayout:
    """Everything to create on the host before ``podman run``, in order."""

    dirs: tuple[PlannedDir, ...] = ()
    files: tuple[PlannedFile, ...] = ()
    links: tuple[PlannedLink, ...] = ()
    ownership: tuple[PlannedOwnership, ...] = ()

    def __add__(self, other: HostLayout) -> HostLayout:
        return HostLayout(
            self.dirs + other.dirs,
            self.files + other.files,
            self.links + other.links,
            self.ownership + other.ownership,
        )


@dataclass(frozen=True)
class Probe:
    """A probe as the kubelet runs it; ``port`` is resolved from a port name already."""

    action: Literal["http", "tcp", "exec"]
    port: int = 0
    path: str = "/"
    # httpHeaders, in order: the agent's probes send Host: localhost (trusted hosts).
    headers: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class RunPlan:
    """One container of a pod, ready for ``podman run``.

    ``argv()`` is the whole ``podman`` argument list after the program name. The stop
    fields mirror the kubelet: run the preStop sleep, send SIGTERM, and SIGKILL what is
    left once the grace period is over.
    """

    name: str
    image: str
    options: tuple[str, ...]
    command: tuple[str, ...]
    env: Mapping[str, str]
    layout: HostLayout
    ports: Mapping[str, int]
    termination_log: Path
    termination_policy: str
    restart_policy: str
    run_as_user: int | None
    run_as_non_root: bool
    pre_stop_seconds: int = 0
    grace_seconds: int = 30
    startup: Probe | None = None
    readiness: Probe | None = None
    liveness: Probe | None = None

    def argv(self, *extra_options: str) -> list[str]:
        return ["run", *self.options, *extra_options, self.image, *self.command]
