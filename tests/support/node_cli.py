"""``python -m tests.support.node up|clean``: a real node for humans (``make node-up``).

``up`` starts a control plane and a real node in the foreground, prints the agent image it
imported and the KUBECONFIG line last, and runs until Ctrl-C or SIGTERM, then stops both.
``clean`` removes what a SIGKILLed runner left on the host.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence

from tests.support import controlplane, images, node, node_images


def up() -> int:
    refs = images.image_refs()
    sandbox = node_images.ensure_sandbox_image(refs.base)
    signal.signal(signal.SIGINT, controlplane._exit_on_signal)
    with controlplane.ControlPlane(pod_reachable=True) as cluster:
        archives = [sandbox.archive, refs.agent_archive]
        with node.RealNode(cluster, images=archives, sandbox_image=sandbox.ref) as real:
            print(
                f"node {real.name} Ready at {real.node_ip} (state in {real.layout.workdir})\n"
                f"AGENT_IMAGE={refs.agent}\nexport KUBECONFIG={cluster.kubeconfig_path}",
                flush=True,
            )
            while True:
                signal.pause()
    return 0


def clean() -> int:
    for workdir in node.clean_stale():
        print(f"removed the state of a dead node runner: {workdir}")
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.node")
    parser.add_argument("command", choices=["up", "clean"])
    args = parser.parse_args(argv)
    return up() if args.command == "up" else clean()
