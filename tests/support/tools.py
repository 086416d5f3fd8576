"""Where the locally built Kubernetes tools live, and whether they are all there."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN_SCRIPT = REPO_ROOT / "hack" / "tools-bin"
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-k8s-tools"
REQUIRED = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
    "helm",
    "kubeseal",
    "sealed-secrets-controller",
)


# Built by the same script but needed by one test only (the dashboards data test), which
# checks for it itself: every other k8s test runs without it.
KUBE_STATE_METRICS = "kube-state-metrics"
BUILD_HINT = (
    f"`make tools` (runs {BUILD_SCRIPT.relative_to(REPO_ROOT)}, "
    "needs Go 1.26 and the Go module proxy)"
)


class ToolsMissingError(RuntimeError):
    """Some binaries are not built yet; the message names them and the command that builds them."""


def tools_bin() -> Path:
    """The versioned bin directory, as ``hack/tools-bin`` computes it (RAGAGENT_TOOLS_BIN wins)."""
    override = os.environ.get("RAGAGENT_TOOLS_BIN")
    if override:
        return Path(override)
    out = subprocess.run([str(TOOLS_BIN_SCRIPT)], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def missing_tools(bin_dir: Path) -> list[str]:
    return [name for name in REQUIRED if not os.access(bin_dir / name, os.X_OK)]


def require_tools(bin_dir: Path | None = None) -> Path:
    """Returns the bin directory, or raises ToolsMissingError naming every absent binary."""
    directory = bin_dir or tools_bin()
    missing = missing_tools(directory)
    if missing:
        raise ToolsMissingError(
            f"missing {', '.join(missing)} in {directory}; build them with {BUILD_HINT}"
        )
    return directory


def require_tool(bin_dir: Path, name: str) -> Path:
    """The path of one binary in ``bin_dir``, or ToolsMissingError saying how to build it."""
    path = bin_dir / name
    if not os.access(path, os.X_OK):
        raise ToolsMissingError(f"missing {name} in {bin_dir}; build it with {BUILD_HINT}")
    return path
