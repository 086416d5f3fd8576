"""The locally built container images (``make images``, i.e. ``hack/build-images``).

- ``image_refs()`` returns the refs, running the build script once per process: it builds
  what is missing and otherwise only hashes the inputs (about a second), so the refs always
  match the working tree. Raises ``ImagesUnavailableError`` when the build cannot run here.
- ``require_images()`` is the same for tests: it skips loudly when the images cannot be
  built, and fails instead under ``CI`` (or ``RAGAGENT_REQUIRE_IMAGES``).
- ``podman_command(...)`` / ``podman_env()`` run podman with the project's settings
  (``hack/containers.conf``); never call a bare ``podman``.

The same refs are in ``~/.cache/ragagent/images/current.env`` (``AGENT_IMAGE``,
``OPERATOR_IMAGE``, ``POSTGRES_IMAGE``, ``BASE_IMAGE`` and the ``*_ARCHIVE`` paths of the
``podman save`` archives, for importing into containerd).
"""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-images"
PODMAN = REPO_ROOT / "hack" / "podman"
CONTAINERS_CONF = REPO_ROOT / "hack" / "containers.conf"
# A cold build (base, three images, archives) takes about four minutes on two cores.
BUILD_TIMEOUT_SECONDS = 1800.0


class ImagesUnavailableError(RuntimeError):
    """The images could not be built here; the message has the end of the build's output."""


@dataclass(frozen=True)
class ImageRefs:
    """Image refs (``localhost/ragagent-<name>:<key>``) and their ``podman save`` archives."""

    agent: str
    operator: str
    postgres: str
    base: str
    agent_archive: Path
    operator_archive: Path
    postgres_archive: Path


def parse_refs(output: str) -> ImageRefs:
    """ImageRefs from the KEY=VALUE lines of the build script (or of current.env)."""
    values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    try:
        return ImageRefs(
            agent=values["AGENT_IMAGE"],
            operator=values["OPERATOR_IMAGE"],
            postgres=values["POSTGRES_IMAGE"],
            base=values["BASE_IMAGE"],
            agent_archive=Path(values["AGENT_ARCHIVE"]),
            operator_archive=Path(values["OPERATOR_ARCHIVE"]),
            postgres_archive=Path(values["POSTGRES_ARCHIVE"]),
        )
    except KeyError as exc:
        raise ImagesUnavailableError(f"build-images printed no {exc.args[0]}") from None


def build_images() -> ImageRefs:
    """Runs hack/build-images (builds only what is missing) and returns its refs."""
    try:
        done = subprocess.run(
            [str(BUILD_SCRIPT)],
            capture_output=True,
            text=True,
            check=False,
            timeout=BUILD_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImagesUnavailableError(f"{BUILD_SCRIPT.name} did not finish: {exc}") from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-15:])
        raise ImagesUnavailableError(f"{BUILD_SCRIPT.name} failed ({done.returncode}):\n{tail}")
    return parse_refs(done.stdout)


def image_refs() -> ImageRefs:
    """The current refs; the build runs once per process, and a failure is remembered too."""
    result = _build_once()
    if isinstance(result, ImagesUnavailableError):
        raise result
    return result


@functools.cache
def _build_once() -> ImageRefs | ImagesUnavailableError:
    try:
        return build_images()
    except ImagesUnavailableError as exc:
        return exc


def require_images() -> ImageRefs:
    """image_refs() for tests: skips loudly when unavailable, fails in CI."""
    try:
        return image_refs()
    except ImagesUnavailableError as exc:
        _skip_loudly_or_fail(f"!!! CONTAINER IMAGES UNAVAILABLE: image tests NOT RUN !!! {exc}")


def _skip_loudly_or_fail(reason: str) -> NoReturn:
    if os.environ.get("CI", "") not in ("", "0", "false") or os.environ.get(
        "RAGAGENT_REQUIRE_IMAGES"
    ):
        pytest.fail(reason)
    pytest.skip(reason)


def podman_env() -> dict[str, str]:
    """This process's environment plus CONTAINERS_CONF, for calling podman directly."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman_command(*args: str) -> list[str]:
    """A podman command line that uses the project's settings (through hack/podman)."""
    return [str(PODMAN), *args]
