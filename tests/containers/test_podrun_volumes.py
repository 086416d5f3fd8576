"""Volumes are laid out and mounted as the kubelet does it (pure, plus writes to tmp_path)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.podrun import materialise, model, volumes

STAMP = "..2026_12_03_10_11_12.42"


def volume(spec: dict[str, Any], tmp_path: Path, **cluster: Any) -> volumes.Volume:
    return volumes.build_volume(
        spec,
        cluster=model.Cluster(**cluster),
        host_dir=tmp_path,
        ownership=volumes.Ownership(),
        stamp=STAMP,
    )


def test_a_config_map_volume_has_the_atomic_writer_layout(tmp_path: Path) -> None:
    config_maps = {"kb": {"data": {"a.md": "# A", "b.md": "# B"}}}
    built = volume({"name": "src", "configMap": {"name": "kb"}}, tmp_path, config_maps=config_maps)
    materialise.write_layout(built.layout)
    root = tmp_path / "volumes" / "src"
    assert sorted(os.listdir(root)) == sorted([STAMP, "..data", "a.md", "b.md"])
    assert os.readlink(root / "..data") == STAMP
    assert os.readlink(root / "a.md") == "..data/a.md"
    assert (root / "a.md").read_text() == "# A"
    assert (root / STAMP / "b.md").stat().st_mode & 0o777 == 0o644
    assert built.read_only


def test_items_choose_keys_paths_and_modes(tmp_path: Path) -> None:
    spec = {
        "name": "cfg",
        "configMap": {
            "name": "kb",
            "defaultMode": 0o600,
            "items": [
                {"key": "a", "path": "dir/one.txt"},
                {"key": "b", "path": "two", "mode": 0o640},
            ],
        },
    }
    built = volume(spec, tmp_path, config_maps={"kb": {"data": {"a": "1", "b": "2", "c": "3"}}})
    materialise.write_layout(built.layout)
    root = tmp_path / "volumes" / "cfg"
    assert sorted(os.listdir(root)) == sorted([STAMP, "..data", "dir", "two"])
    assert os.readlink(root / "dir") == "..data/dir"
    assert (root / "dir" / "one.txt").read_text() == "1"
    assert (root / STAMP / "dir" / "one.txt").stat().st_mode & 0o777 == 0o600
    assert (root / STAMP / "two").stat().st_mode & 0o777 == 0o640


def test_a_secret_volume_decodes_data(tmp_path: Path) -> None:
    secrets = {"s": {"data": {"token": "c2VjcmV0"}}}
    built = volume({"name": "s", "secret": {"secretName": "s"}}, tmp_path, secrets=secrets)
    materialise.write_layout(built.layout)
    assert (tmp_path / "volumes" / "s" / "token").read_bytes() == b"secret"


def test_missing_keys_and_objects_fail_unless_optional(tmp_path: Path) -> None:
    items = {"name": "kb", "items": [{"key": "nope", "path": "x"}]}
    with pytest.raises(model.MissingReferenceError):
        volume({"name": "v", "configMap": items}, tmp_path, config_maps={"kb": {"data": {}}})
    with pytest.raises(model.MissingReferenceError):
        volume({"name": "v", "secret": {"secretName": "gone"}}, tmp_path)
    optional = volume({"name": "v", "secret": {"secretName": "gone", "optional": True}}, tmp_path)
    assert [link.target for link in optional.layout.links] == [STAMP]


def test_fs_group_gives_api_data_volumes_the_group_and_setgid() -> None:
    files = {"a": (b"x", 0o600)}
    layout = volumes.atomic_layout(Path("/v"), files, stamp=STAMP, gid=2000)
    assert layout.dirs[0] == model.PlannedDir(Path("/v"), 0o2777, 2000)
    assert layout.dirs[1] == model.PlannedDir(Path("/v") / STAMP, 0o2755, 2000)
    assert layout.files[0].mode == 0o640
    assert layout.files[0].gid == 2000


def test_an_empty_dir_is_world_writable_and_owned_by_the_fs_group(tmp_path: Path) -> None:
    built = volumes.build_volume(
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        cluster=model.Cluster(),
        host_dir=tmp_path,
        ownership=volumes.Ownership(gid=os.getgid()),
        stamp=STAMP,
    )
    materialise.write_layout(built.layout)
    info = (tmp_path / "volumes" / "tmp").stat()
    assert info.st_mode & 0o7777 == 0o2777
    assert info.st_gid == os.getgid()


def test_a_memory_empty_dir_is_a_tmpfs_of_its_size_limit(tmp_path: Path) -> None:
    built = volume({"name": "m", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}, tmp_path)
    options = volumes.mount_options([{"name": "m", "mountPath": "/cache"}], {"m": built})
    assert options == [f"--tmpfs=/cache:rw,exec,mode=777,size={64 * 1024 * 1024}"]


def test_claims_bind_the_given_directory_and_read_only_is_kept(tmp_path: Path) -> None:
    spec = {"name": "b", "persistentVolumeClaim": {"claimName": "backups", "readOnly": True}}
    built = volume(spec, tmp_path, claims={"backups": tmp_path / "pv"})
    options = volumes.mount_options([{"name": "b", "mountPath": "/backups"}], {"b": built})
    assert options == [f"--mount=type=bind,source={tmp_path / 'pv'},destination=/backups,ro=true"]
    assert built.layout.ownership == ()
    with pytest.raises(model.MissingReferenceError):
        volume(spec, tmp_path)


def test_a_writable_claim_gets_the_fs_group_pass(tmp_path: Path) -> None:
    pv = tmp_path / "pv"
    (pv / "old").mkdir(parents=True)
    (pv / "old" / "file").write_text("x")
    (pv / "old" / "file").chmod(0o600)
    built = volumes.build_volume(
        {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
        cluster=model.Cluster(claims={"data": pv}),
        host_dir=tmp_path,
        ownership=volumes.Ownership(gid=os.getgid()),
        stamp=STAMP,
    )
    materialise.write_layout(built.layout)
    assert (pv / "old").stat().st_mode & 0o2070 == 0o2070
    assert (pv / "old" / "file").stat().st_mode & 0o777 == 0o660


def test_sub_path_mounts_a_directory_inside_the_volume_created_when_missing(
    tmp_path: Path,
) -> None:
    built = {"tmp": volume({"name": "tmp", "emptyDir": {}}, tmp_path)}
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/x", "subPath": "a/b"}]
    source = tmp_path / "volumes" / "tmp" / "a" / "b"
    assert volumes.mount_options(mounts, built) == [
        f"--mount=type=bind,source={source},destination=/x"
    ]
    materialise.write_layout(built["tmp"].layout + volumes.subpath_dirs(mounts, built))
    assert source.is_dir()
    assert source.stat().st_mode & 0o777 == 0o777


@pytest.mark.parametrize("sub_path", ["../escape", "/abs", "a/../../b"])
def test_sub_paths_may_not_leave_the_volume(tmp_path: Path, sub_path: str) -> None:
    built = {"tmp": volume({"name": "tmp", "emptyDir": {}}, tmp_path)}
    with pytest.raises(model.TranslationError):
        volumes.mount_options([{"name": "tmp", "mountPath": "/x", "subPath": sub_path}], built)


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "h", "hostPath": {"path": "/"}},
        {"name": "p", "projected": {"sources": []}},
        {"name": "e", "emptyDir": {"medium": "HugePages"}},
        {"name": "c", "configMap": {"name": "kb", "unknown": 1}},
    ],
)
def test_unsupported_volume_sources_and_fields_raise(tmp_path: Path, spec: dict[str, Any]) -> None:
    with pytest.raises(model.UnsupportedFieldError):
        volume(spec, tmp_path, config_maps={"kb": {"data": {}}})


def test_unknown_mount_fields_raise(tmp_path: Path) -> None:
    built = {"tmp": volume({"name": "tmp", "emptyDir": {}}, tmp_path)}
    mount = {"name": "tmp", "mountPath": "/x", "mountPropagation": "Bidirectional"}
    with pytest.raises(model.UnsupportedFieldError):
        volumes.mount_options([mount], built)
