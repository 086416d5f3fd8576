"""Images for the real node: the project's ``podman save`` archives, plus the pod sandbox.

No registry is reachable, so there is no registry.k8s.io/pause: the sandbox is a tiny image
on the project's local base whose command sleeps forever, built once per base image with
hack/podman and saved beside the other archives. Likewise the cluster DNS image holds the
locally built CoreDNS binary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.support import images

SANDBOX_REPOSITORY = "localhost/ragagent-sandbox"
# The images of one static binary each (cluster DNS, the sealed-secrets controller).
BINARY_REPOSITORY = "localhost/ragagent-{name}"
BINARY_UID = 65532
CACHE_DIR = Path.home() / ".cache" / "ragagent" / "node"
BUILD_TIMEOUT_SECONDS = 600.0


@dataclasses.dataclass(frozen=True)
class SandboxImage:
    ref: str
    archive: Path


def build_containerfile(base_ref: str) -> str:
    """``sleep infinity`` as PID 1 ignores SIGTERM, which is fine: containerd stops a
    sandbox with SIGKILL."""
    return f'FROM {base_ref}\nCMD ["sleep", "infinity"]\n'


def sandbox_for(base_ref: str) -> SandboxImage:
    """The sandbox image's ref and archive path for a base ref (same tag: same base)."""
    tag = base_ref.rsplit(":", 1)[-1]
    return SandboxImage(f"{SANDBOX_REPOSITORY}:{tag}", CACHE_DIR / f"ragagent-sandbox-{tag}.tar")


def ensure_sandbox_image(base_ref: str) -> SandboxImage:
    """Builds and saves the sandbox image unless its archive exists; returns it."""
    sandbox = sandbox_for(base_ref)
    return _ensure_saved(sandbox, {"Containerfile": build_containerfile(base_ref).encode()})


def build_binary_containerfile(name: str) -> str:
    """One static binary alone, as a non-root user (the one upstream's images use)."""
    return (
        f"FROM scratch\nCOPY {name} /{name}\nUSER {BINARY_UID}:{BINARY_UID}\n"
        f'ENTRYPOINT ["/{name}"]\n'
    )


def ensure_binary_image(binary: Path) -> SandboxImage:
    """The image of a binary hack/build-k8s-tools builds (CoreDNS, the sealed-secrets
    controller): built and saved unless its archive exists (tagged by the binary's digest)."""
    name, data = binary.name, binary.read_bytes()
    tag = hashlib.sha256(data).hexdigest()[:16]
    ref = f"{BINARY_REPOSITORY.format(name=name)}:{tag}"
    image = SandboxImage(ref, CACHE_DIR / f"ragagent-{name}-{tag}.tar")
    files = {"Containerfile": build_binary_containerfile(name).encode(), name: data}
    return _ensure_saved(image, files)


def _ensure_saved(image: SandboxImage, context_files: dict[str, bytes]) -> SandboxImage:
    """Builds ``image`` from a context of ``context_files`` and saves its archive, unless
    the archive exists."""
    if image.archive.is_file():
        return image
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as context:
        for name, data in context_files.items():
            (Path(context) / name).write_bytes(data)
            (Path(context) / name).chmod(0o755)
        _podman("build", "--quiet", "--tag", image.ref, context)
    # A partial name of this process's own: two test sessions (or xdist workers) that
    # build the same image at once each save their own file, and the last replace wins
    # with an identical archive, instead of one renaming the other's file from under it.
    partial = image.archive.with_name(f"{image.archive.name}.{os.getpid()}.{uuid.uuid4().hex}")
    try:
        _podman("save", "--quiet", "--output", str(partial), image.ref)
        os.replace(partial, image.archive)
    finally:
        partial.unlink(missing_ok=True)
    return image


def _podman(*args: str) -> None:
    subprocess.run(
        images.podman_command(*args), check=True, capture_output=True, timeout=BUILD_TIMEOUT_SECONDS
    )
