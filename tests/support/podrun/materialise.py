"""Writes a plan's host layout: directories, files, symlinks and the fsGroup pass.

Modes are set with chmod after creation, so the process umask does not matter, and a
group is set only when the plan names one (which needs root, as the kubelet has).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.podrun import model, volumes


def write_layout(layout: model.HostLayout) -> None:
    for directory in layout.dirs:
        make_dir(directory)
    for file in layout.files:
        write_file(file)
    for link in layout.links:
        link.path.parent.mkdir(parents=True, exist_ok=True)
        replace_link(link.path, link.target)
    for change in layout.ownership:
        apply_ownership(change)


def replace_link(path: Path, target: Path | str) -> None:
    """Points ``path`` at ``target`` in one rename, as the kubelet's atomic writer swaps
    ``..data``: a second container of the same pod (the same volumes) writes them again."""
    staged = path.with_name(f"{path.name}.staged")
    staged.unlink(missing_ok=True)
    staged.symlink_to(target)
    os.replace(staged, path)


def make_dir(planned: model.PlannedDir) -> None:
    """Creates the directory when missing; an existing one is left as it is."""
    if planned.path.is_dir():
        return
    if planned.mode is None:
        _make_like_ancestor(planned.path)
        return
    planned.path.parent.mkdir(parents=True, exist_ok=True)
    planned.path.mkdir()
    _own(planned.path, planned.gid)
    planned.path.chmod(planned.mode)


def _make_like_ancestor(path: Path) -> None:
    """The kubelet's MkdirAll for a subPath: every new level gets the volume root's mode."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    info = path.stat()
    for directory in reversed(missing):
        directory.mkdir()
        os.chown(directory, -1, info.st_gid)
        directory.chmod(info.st_mode & 0o7777)


def write_file(planned: model.PlannedFile) -> None:
    planned.path.parent.mkdir(parents=True, exist_ok=True)
    planned.path.write_bytes(planned.content)
    _own(planned.path, planned.gid)
    planned.path.chmod(planned.mode)


def _own(path: Path, gid: int | None) -> None:
    if gid is not None:
        os.chown(path, -1, gid, follow_symlinks=False)


def apply_ownership(change: model.PlannedOwnership) -> None:
    """The kubelet's SetVolumeOwnership: group, group permissions and setgid on directories."""
    if change.only_on_root_mismatch and _root_matches(change):
        return
    for top, dirs, files in os.walk(change.path):
        _change(Path(top), change)
        # os.walk lists symlinks to directories among dirs but does not enter them.
        for name in [*files, *(d for d in dirs if Path(top, d).is_symlink())]:
            _change(Path(top, name), change)


def _change(path: Path, change: model.PlannedOwnership) -> None:
    os.chown(path, -1, change.gid, follow_symlinks=False)
    if path.is_symlink():
        return
    mode = path.stat().st_mode & 0o7777
    if path.is_dir():
        path.chmod(volumes.dir_mode(mode, change.gid, read_only=change.read_only))
    else:
        path.chmod(volumes.file_mode(mode, change.gid, read_only=change.read_only))


def _root_matches(change: model.PlannedOwnership) -> bool:
    info = change.path.stat()
    wanted = volumes.dir_mode(0, change.gid, read_only=change.read_only)
    return info.st_gid == change.gid and (info.st_mode & wanted) == wanted
