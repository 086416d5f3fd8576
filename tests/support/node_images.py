"""Images for the real node: the project's ``podman save`` archives, plus the pod sandbox.

No registry is reachable, so there is no registry.k8s.io/pause: the sandbox is a tiny image
on the project's local base whose command sleeps forever, built once per base image with
hack/podman and saved beside the other archives.
"""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
from pathlib import Path

from tests.support import images

SANDBOX_REPOSITORY = "localhost/ragagent-sandbox"
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
    if sandbox.archive.is_file():
        return sandbox
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as context:
        (Path(context) / "Containerfile").write_text(build_containerfile(base_ref))
        _podman("build", "--quiet", "--tag", sandbox.ref, context)
    partial = sandbox.archive.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    _podman("save", "--quiet", "--output", str(partial), sandbox.ref)
    partial.rename(sandbox.archive)
    return sandbox


def _podman(*args: str) -> None:
    subprocess.run(
        images.podman_command(*args), check=True, capture_output=True, timeout=BUILD_TIMEOUT_SECONDS
    )
