"""``python -m tests.support.controlplane up|down|kubeconfig``: the cluster for humans.

``up`` starts a detached supervisor (``serve``) that owns the cluster and records itself in
``.cluster/state.json``; ``down`` sends it SIGTERM, and it stops every component on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support import controlplane, processes, tools

STATE_DIR = Path(os.environ.get("RAGAGENT_CLUSTER_DIR", tools.REPO_ROOT / ".cluster"))
STATE_FILE = STATE_DIR / "state.json"
SERVE_LOG = STATE_DIR / "serve.log"
UP_TIMEOUT = 120.0
DOWN_TIMEOUT = 20.0


def read_state() -> dict[str, Any] | None:
    """The running cluster's state, or None when none is recorded or its supervisor is gone."""
    try:
        state: dict[str, Any] = json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return None
    return state if processes.is_alive(int(state["pid"])) else None


def _export_line(state: dict[str, Any]) -> str:
    return f"export KUBECONFIG={state['kubeconfig']}"


def serve() -> None:
    """Runs the cluster in this process until SIGTERM/SIGINT, publishing its state when ready."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    cluster = controlplane.ControlPlane(workdir=STATE_DIR / "run")
    signal.signal(signal.SIGINT, controlplane._exit_on_signal)
    with cluster:
        state = _build_state(cluster)
        STATE_FILE.write_text(json.dumps(state, indent=2))
        print(f"cluster ready: {cluster.server}\n{_export_line(state)}", flush=True)
        try:
            while True:
                signal.pause()
        finally:
            STATE_FILE.unlink(missing_ok=True)


def _build_state(cluster: controlplane.ControlPlane) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "server": cluster.server,
        "kubeconfig": str(cluster.kubeconfig_path),
        "tools_bin": str(cluster.tools_bin),
        "sealing_cert": str(cluster.sealing_cert_path),
        "sealing_key": str(cluster.sealing_key_path),
        "logs": str(cluster.workdir),
    }


def up(foreground: bool) -> int:
    state = read_state()
    if state:
        print(f"cluster already running (pid {state['pid']})\n{_export_line(state)}")
        return 0
    if foreground:
        serve()
        return 0
    return _spawn_and_wait()


def _spawn_and_wait() -> int:
    """Starts ``serve`` detached from this terminal and waits until it reports ready."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    STATE_FILE.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "tests.support.controlplane", "serve"]
    with SERVE_LOG.open("wb") as log:
        child = subprocess.Popen(
            argv, cwd=tools.REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + UP_TIMEOUT
    while time.monotonic() < deadline:
        if (state := read_state()) is not None:
            print(
                f"cluster ready: {state['server']} (logs in {state['logs']})\n{_export_line(state)}"
            )
            return 0
        if child.poll() is not None:
            break
        time.sleep(0.5)
    print(
        f"cluster failed to start; see {SERVE_LOG}:\n{SERVE_LOG.read_text()[-3000:]}",
        file=sys.stderr,
    )
    return 1


def down() -> int:
    state = read_state()
    if state is None:
        print("no cluster running")
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT
    while processes.is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if processes.is_alive(pid):
        # Its components carry a parent-death signal, so killing the supervisor ends them too.
        os.kill(pid, signal.SIGKILL)
    print(f"cluster stopped (pid {pid})")
    return 0


def kubeconfig() -> int:
    state = read_state()
    if state is None:
        print("no cluster running; start one with `make cluster-up`", file=sys.stderr)
        return 1
    print(_export_line(state))
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.controlplane", description=__doc__
    )
    parser.add_argument("command", choices=["up", "down", "kubeconfig", "serve"])
    parser.add_argument(
        "--foreground", action="store_true", help="up: run in this terminal until Ctrl-C"
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve()
        return
    commands = {"up": lambda: up(args.foreground), "down": down, "kubeconfig": kubeconfig}
    sys.exit(commands[args.command]())
