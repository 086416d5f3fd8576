"""Pod volumes on the host, laid out as the kubelet lays them out, and their mounts.

- ``emptyDir``: a fresh directory, mode 0777 (tmpfs for ``medium: Memory``).
- ``configMap``/``secret``: the atomic-writer layout (see ``atomic_layout``), mounted
  read-only as every API-data volume is.
- ``persistentVolumeClaim``: the host directory the caller binds to the claim.
- With ``fsGroup`` the kubelet gives a volume that group and the setgid bit
  (``SetVolumeOwnership``); read-only claims are left alone, as the CSI mounter does.

``emptyDir.sizeLimit`` is not enforced on disk: the kubelet enforces it by eviction.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ragagent_operator import quantity
from tests.support.podrun import env, model

VOLUME_SOURCES = {"emptyDir", "configMap", "secret", "persistentVolumeClaim"}
EMPTY_DIR_FIELDS = {"medium", "sizeLimit"}
CONFIG_MAP_FIELDS = {"name", "items", "defaultMode", "optional"}
SECRET_FIELDS = {"secretName", "items", "defaultMode", "optional"}
CLAIM_FIELDS = {"claimName", "readOnly"}
ITEM_FIELDS = {"key", "path", "mode"}
MOUNT_FIELDS = {"name", "mountPath", "readOnly", "subPath"}
DEFAULT_MODE = 0o644
SETGID = 0o2000
RW_MASK, RO_MASK, EXEC_MASK = 0o660, 0o440, 0o110


@dataclass(frozen=True)
class Volume:
    """A volume ready to mount: a host ``source`` directory, or a tmpfs."""

    name: str
    source: Path | None
    read_only: bool = False
    tmpfs_options: str = ""
    layout: model.HostLayout = field(default_factory=model.HostLayout)


@dataclass(frozen=True)
class Ownership:
    """The pod's ``fsGroup`` and ``fsGroupChangePolicy``."""

    gid: int | None = None
    on_root_mismatch: bool = False


def dir_mode(mode: int, gid: int | None, *, read_only: bool) -> int:
    """A directory's mode after the kubelet's fsGroup pass."""
    if gid is None:
        return mode
    return mode | (RO_MASK if read_only else RW_MASK) | EXEC_MASK | SETGID


def file_mode(mode: int, gid: int | None, *, read_only: bool) -> int:
    if gid is None:
        return mode
    return mode | (RO_MASK if read_only else RW_MASK)


def atomic_layout(
    root: Path, files: Mapping[str, tuple[bytes, int]], *, stamp: str, gid: int | None
) -> model.HostLayout:
    """The kubelet's AtomicWriter result for ``files`` (path -> content, mode).

    ``root/<stamp>`` (``..2006_01_02_15_04_05.<digits>``) holds the files, ``root/..data``
    links to it, and each top-level name links to ``..data/<name>``.
    """
    data_dir = root / stamp
    dirs = [
        model.PlannedDir(root, dir_mode(0o777, gid, read_only=True), gid),
        model.PlannedDir(data_dir, dir_mode(0o755, gid, read_only=True), gid),
    ]
    planned: list[model.PlannedFile] = []
    sub_mode = dir_mode(0o755, gid, read_only=True)
    for path, (content, mode) in sorted(files.items()):
        for parent in reversed(PurePosixPath(path).parents[:-1]):
            dirs.append(model.PlannedDir(data_dir / parent, sub_mode, gid))
        planned.append(
            model.PlannedFile(data_dir / path, content, file_mode(mode, gid, read_only=True), gid)
        )
    tops = sorted({PurePosixPath(path).parts[0] for path in files})
    links = [model.PlannedLink(root / "..data", stamp)]
    links += [model.PlannedLink(root / top, f"..data/{top}") for top in tops]
    return model.HostLayout(tuple(dict.fromkeys(dirs)), tuple(planned), tuple(links))


def check_relative(path: str, where: str) -> str:
    """A key path or subPath must be relative and must not climb out with ``..``."""
    parts = PurePosixPath(path).parts
    if not path or path.startswith("/") or ".." in parts:
        raise model.TranslationError(f"{where}: {path!r} must be a relative path without '..'")
    return path


def build_volume(
    spec: Mapping[str, Any],
    *,
    cluster: model.Cluster,
    host_dir: Path,
    ownership: Ownership,
    stamp: str,
) -> Volume:
    name = spec["name"]
    model.require_known(spec, {"name", *VOLUME_SOURCES}, f"volume {name!r}")
    root = host_dir / "volumes" / name
    if "emptyDir" in spec:
        return _empty_dir(name, spec["emptyDir"] or {}, root, ownership)
    if "configMap" in spec:
        return _api_data(name, spec["configMap"], cluster, root, ownership, stamp)
    if "secret" in spec:
        return _api_data(name, spec["secret"], cluster, root, ownership, stamp)
    if "persistentVolumeClaim" in spec:
        return _claim(name, spec["persistentVolumeClaim"], cluster, ownership)
    raise model.UnsupportedFieldError(f"volume {name!r}: no supported volume source")


def _empty_dir(name: str, spec: Mapping[str, Any], root: Path, ownership: Ownership) -> Volume:
    model.require_known(spec, EMPTY_DIR_FIELDS, f"volume {name!r} emptyDir")
    gid = ownership.gid
    mode = dir_mode(0o777, gid, read_only=False)
    medium = spec.get("medium", "")
    if medium == "Memory":
        # podman takes no gid= for a tmpfs: the setgid mode alone lets the fsGroup write.
        options = [f"mode={mode:o}"]
        if "sizeLimit" in spec:
            options.append(f"size={int(quantity.parse_quantity(str(spec['sizeLimit'])))}")
        return Volume(name, None, tmpfs_options=",".join(["rw", "exec", *options]))
    if medium:
        raise model.UnsupportedFieldError(f"volume {name!r} emptyDir: medium {medium!r}")
    return Volume(name, root, layout=model.HostLayout(dirs=(model.PlannedDir(root, mode, gid),)))


def _api_data(
    name: str,
    spec: Mapping[str, Any],
    cluster: model.Cluster,
    root: Path,
    ownership: Ownership,
    stamp: str,
) -> Volume:
    """A configMap or secret volume: the chosen keys as files in the atomic-writer layout."""
    is_secret = "secretName" in spec
    model.require_known(spec, SECRET_FIELDS if is_secret else CONFIG_MAP_FIELDS, f"volume {name!r}")
    ref = spec["secretName"] if is_secret else spec["name"]
    obj = (cluster.secrets if is_secret else cluster.config_maps).get(ref)
    if obj is None and not spec.get("optional"):
        kind = "Secret" if is_secret else "ConfigMap"
        raise model.MissingReferenceError(f"volume {name!r}: {kind} {ref!r} not found")
    data = {} if obj is None else (env.secret_bytes(obj) if is_secret else _config_map_bytes(obj))
    files = _projected_files(name, spec, data)
    layout = atomic_layout(root, files, stamp=stamp, gid=ownership.gid)
    return Volume(name, root, read_only=True, layout=layout)


def _config_map_bytes(obj: Mapping[str, Any]) -> dict[str, bytes]:
    binary = {str(k): _b64(v) for k, v in (obj.get("binaryData") or {}).items()}
    return {**{k: v.encode() for k, v in env.config_map_strings(obj).items()}, **binary}


def _b64(value: Any) -> bytes:
    return base64.b64decode(value)


def _projected_files(
    name: str, spec: Mapping[str, Any], data: Mapping[str, bytes]
) -> dict[str, tuple[bytes, int]]:
    """Every key as a file, or only ``items`` (a missing key fails unless ``optional``)."""
    default_mode = int(spec.get("defaultMode", DEFAULT_MODE))
    items = spec.get("items")
    if items is None:
        return {check_relative(k, f"volume {name!r}"): (v, default_mode) for k, v in data.items()}
    files: dict[str, tuple[bytes, int]] = {}
    for item in items:
        model.require_known(item, ITEM_FIELDS, f"volume {name!r} items")
        if item["key"] not in data:
            if spec.get("optional"):
                continue
            raise model.MissingReferenceError(f"volume {name!r}: key {item['key']!r} not found")
        path = check_relative(item["path"], f"volume {name!r} items")
        files[path] = (data[item["key"]], int(item.get("mode", default_mode)))
    return files


def _claim(
    name: str, spec: Mapping[str, Any], cluster: model.Cluster, ownership: Ownership
) -> Volume:
    model.require_known(spec, CLAIM_FIELDS, f"volume {name!r} persistentVolumeClaim")
    claim = spec["claimName"]
    if claim not in cluster.claims:
        raise model.MissingReferenceError(f"volume {name!r}: claim {claim!r} is not bound")
    source, read_only = cluster.claims[claim], bool(spec.get("readOnly"))
    owned: tuple[model.PlannedOwnership, ...] = ()
    if ownership.gid is not None and not read_only:
        change = model.PlannedOwnership(
            source, ownership.gid, read_only=False, only_on_root_mismatch=ownership.on_root_mismatch
        )
        owned = (change,)
    return Volume(name, source, read_only=read_only, layout=model.HostLayout(ownership=owned))


def mount_options(mounts: Sequence[Mapping[str, Any]], volumes: Mapping[str, Volume]) -> list[str]:
    """``--mount``/``--tmpfs`` options for the container's ``volumeMounts``."""
    options: list[str] = []
    for mount in mounts:
        model.require_known(mount, MOUNT_FIELDS, f"volumeMount {mount.get('name')!r}")
        volume = volumes.get(mount["name"])
        if volume is None:
            raise model.TranslationError(f"volumeMount {mount['name']!r}: no such volume")
        options.append(_mount_option(mount, volume))
    return options


def _mount_option(mount: Mapping[str, Any], volume: Volume) -> str:
    target = mount["mountPath"]
    read_only = volume.read_only or bool(mount.get("readOnly"))
    if volume.source is None:
        if "subPath" in mount or read_only:
            raise model.UnsupportedFieldError(f"volumeMount {volume.name!r}: subPath or readOnly")
        return f"--tmpfs={target}:{volume.tmpfs_options}"
    source = volume.source
    if mount.get("subPath"):
        source = source / check_relative(mount["subPath"], f"volumeMount {volume.name!r}")
    suffix = ",ro=true" if read_only else ""
    return f"--mount=type=bind,source={source},destination={target}{suffix}"


def subpath_dirs(
    mounts: Sequence[Mapping[str, Any]], volumes: Mapping[str, Volume]
) -> model.HostLayout:
    """The kubelet creates a missing subPath of a writable volume as a directory."""
    dirs = []
    for mount in mounts:
        volume = volumes[mount["name"]]
        if mount.get("subPath") and volume.source is not None and not volume.read_only:
            dirs.append(model.PlannedDir(volume.source / mount["subPath"], None))
    return model.HostLayout(dirs=tuple(dirs))
