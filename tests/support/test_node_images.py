"""Two sessions that build the same node image at once both end with its archive.

podman is replaced only where the race lives: both builders save at once and neither
moves its archive into place before the other has written its own: the interleaving that
made the second rename fail on a cold machine (FileNotFoundError for ...sandbox-<tag>.partial)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.support import node_images


def test_concurrent_builders_of_one_image_both_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    both_saving = threading.Barrier(2, timeout=10)

    def podman(*args: str) -> None:
        if args[0] == "save":
            both_saving.wait()
            Path(args[args.index("--output") + 1]).write_bytes(b"archive")
            both_saving.wait()  # both archives written before either is moved into place

    monkeypatch.setattr(node_images, "_podman", podman)
    monkeypatch.setattr(node_images, "CACHE_DIR", tmp_path)
    image = node_images.SandboxImage("localhost/x:1", tmp_path / "x.tar")
    errors: list[BaseException] = []

    def build() -> None:
        try:
            node_images._ensure_saved(image, {"Containerfile": b"FROM scratch\n"})
        except BaseException as error:  # noqa: BLE001 (reported by the assertion below)
            errors.append(error)

    builders = [threading.Thread(target=build) for _ in range(2)]
    for builder in builders:
        builder.start()
    for builder in builders:
        builder.join(timeout=20)
    assert errors == []
    assert image.archive.read_bytes() == b"archive"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["x.tar"]
