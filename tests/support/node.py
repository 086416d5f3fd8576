"""A real node for the local control plane: containerd + runc + CNI bridge + kubelet.

``RealNode(cluster, images=...).start()`` starts containerd with its own root, state and
socket under a temp dir, imports the project's image archives into it, and joins a kubelet
named ``ragagent-real-node-<n>`` with the label and NoSchedule taint ``ragagent.dev/real-node``,
so only pods that select and tolerate it run there. The node's IP is the gateway of its pod
bridge (10.222.<n>.1), where the kubelet serves with a certificate from the cluster's CA.
Then kube-proxy and kube-router (``node_network``) and cluster DNS as a CoreDNS pod
(``node_dns``, reaching the API server through the ``kubernetes`` Service, so the control
plane must be ``pod_reachable``), and the sealed-secrets controller as a pod
(``node_sealing``), whose Service the chart's operator pods read the sealing certificate from.

``stop()`` deletes the node's pods, stops the kubelet, removes containerd's
leftovers, stops containerd, then removes the host state (``node_host.clean_host``). A
runner that was SIGKILLed leaves its state behind: the next ``start()`` (or
``python -m tests.support.node clean``) removes that of every dead owner.

CLI: ``python -m tests.support.node up`` runs a control plane and a node until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support import (
    controlplane,
    kubeconfig,
    node_addons,
    node_config,
    node_dns,
    node_host,
    node_images,
    node_network,
    node_sealing,
    processes,
    tools,
)

WORKDIR_PREFIX = "ragagent-node-"
OWNER_FILE = "owner.json"
START_TIMEOUT = 120.0
POD_DELETE_TIMEOUT = "90s"
NODE_TOOLS = (
    "kubelet", "containerd", "containerd-shim-runc-v2", "ctr", "coredns", *node_addons.TOOLS,
    *node_network.TOOLS,
)  # fmt: skip
CRI_NAMESPACE = "k8s.io"
NETWORK_ATTEMPTS = 5


class RealNode:
    """One kubelet node. ``images`` are ``podman save`` archives imported into containerd;
    ``sandbox_image`` (one of them) is the pod sandbox, whose entrypoint must sleep forever."""

    def __init__(
        self,
        cluster: controlplane.ControlPlane,
        *,
        images: Sequence[Path],
        sandbox_image: str,
    ) -> None:
        for name in NODE_TOOLS:
            tools.require_tool(cluster.tools_bin, name)
        if not cluster.pod_reachable:
            raise ValueError(
                "a real node needs ControlPlane(pod_reachable=True): its pods (cluster DNS, "
                "operators) reach the API server through the kubernetes Service"
            )
        self.cluster = cluster
        self.images = list(images)
        self.sandbox_image = sandbox_image
        self.layout = node_config.Layout.under(Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX)))
        self.network = node_config.Network(node_host.free_network_index())
        self._components: list[processes.Component] = []
        # kube-proxy and kube-router, once the kubelet is Ready (tests/support/node_network.py).
        self.service_network: node_network.NodeNetwork | None = None
        self._stopped = False

    @property
    def name(self) -> str:
        return self.network.node_name

    @property
    def node_ip(self) -> str:
        return self.network.node_ip

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> RealNode:
        """Starts everything; on any failure stops what was started and re-raises."""
        clean_stale()
        with processes.undone_on_failure(
            lambda: shutil.rmtree(self.layout.workdir, ignore_errors=True)
        ):
            self._claim_network()
        _write_owner(self.layout.workdir, self.network)
        with processes.undone_on_failure(self.stop):
            node_host.create_cgroup_root(self.network)
            self._start_containerd()
            dns_image = node_images.ensure_binary_image(self.cluster.tool("coredns"))
            sealer = node_images.ensure_binary_image(self.cluster.tool("sealed-secrets-controller"))
            self._import_images(dns_image.archive, sealer.archive)
            self._start_kubelet()
            self.service_network = node_network.NodeNetwork(
                self.cluster, self.layout.workdir, self.network
            ).start()
            node_dns.ensure_cluster_dns(self.cluster, dns_image.ref, watch=self._components)
            if self.cluster.with_sealed_secrets:
                objects = node_sealing.build_objects(sealer.ref)
                node_dns.ensure_system_deployment(
                    self.cluster, objects, node_sealing.NAME, watch=self._components
                )
            self._components += node_addons.start(self)
        return self

    def stop(self) -> None:
        """Pods first, then the kubelet, containerd and the host state. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            self._delete_pods()
        with contextlib.suppress(Exception):
            node_addons.stop(self)
        for name in node_addons.NAMES:
            self._stop_component(name)
        if self.service_network is not None:
            self.service_network.stop()
        self._stop_component("kubelet")
        with contextlib.suppress(Exception):
            self._remove_containers()
        self._stop_component("containerd")
        self.cluster.kubectl("delete", "node", self.name, "--ignore-not-found", check=False)
        remove_node_state(self.layout.workdir, self.network)

    def _claim_network(self) -> None:
        """Creates the bridge. A node starting at the same moment may take the same index;
        then the next free one is tried."""
        for _ in range(NETWORK_ATTEMPTS):
            try:
                node_host.create_bridge(self.network)
                return
            except subprocess.CalledProcessError:
                self.network = node_config.Network(node_host.free_network_index())
        raise RuntimeError(f"could not create a pod bridge in {NETWORK_ATTEMPTS} attempts")

    def __enter__(self) -> RealNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self) -> str:
        """The last lines of containerd's and the kubelet's logs (for failure messages)."""
        extra = self.service_network.components if self.service_network else []
        return "\n".join(f"--- {c.name}:\n{c.log_tail(60)}" for c in [*self._components, *extra])

    # --- containerd -----------------------------------------------------------------------

    def ctr(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        argv = [
            str(self.cluster.tool("ctr")), f"--address={self.layout.containerd_socket}",
            f"--namespace={CRI_NAMESPACE}", *args,
        ]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=timeout)

    def _start_containerd(self) -> None:
        layout = self.layout
        layout.cni_conf_dir.mkdir(parents=True)
        layout.containerd_config.parent.mkdir(parents=True)
        conflist = node_config.build_cni_conflist(layout, self.network)
        (layout.cni_conf_dir / "10-ragagent.conflist").write_text(json.dumps(conflist))
        config = node_config.build_containerd_config(layout, sandbox_image=self.sandbox_image)
        layout.containerd_config.write_text(config)
        argv = [str(self.cluster.tool("containerd")), f"--config={layout.containerd_config}"]
        # The shim is found on PATH, next to containerd.
        path = f"{self.cluster.tools_bin}:{os.environ['PATH']}"
        self._components.append(
            processes.start("containerd", argv, log_dir=layout.workdir, env={"PATH": path})
        )
        self._wait("containerd", self._containerd_ready)

    def _containerd_ready(self) -> bool:
        try:
            self.ctr("version", timeout=10)
        except subprocess.SubprocessError:
            return False
        return True

    def _import_images(self, *extra: Path) -> None:
        for archive in (*self.images, *extra):
            self.ctr("images", "import", "--snapshotter=overlayfs", str(archive))

    def _remove_containers(self) -> None:
        """Whatever the kubelet left (normally nothing): tasks killed, containers deleted."""
        for container in self.ctr("containers", "list", "--quiet").stdout.split():
            self.ctr("tasks", "kill", "--signal=SIGKILL", container, timeout=30)
            self.ctr("tasks", "delete", "--force", container, timeout=30)
            self.ctr("containers", "delete", container, timeout=30)

    # --- kubelet --------------------------------------------------------------------------

    def _start_kubelet(self) -> None:
        layout, cluster = self.layout, self.cluster
        self._write_certs()
        user = kubeconfig.cert_user(
            layout.pki_dir / "kubelet-client.crt", layout.pki_dir / "kubelet-client.key"
        )
        kubeconfig.write_kubeconfig(
            layout.kubelet_kubeconfig,
            kubeconfig.build_kubeconfig(
                server=cluster.server, ca_path=cluster.ca_path, user=user, name=self.name
            ),
        )
        cluster.kubectl("apply", "-f", "-", input=json.dumps(node_config.build_node_rbac()))
        ports = node_config.KubeletPorts(*processes.free_ports(2))
        config = node_config.build_kubelet_config(
            layout,
            self.network,
            ports=ports,
            ca_cert=cluster.ca_path,
            dns_ip=node_dns.CLUSTER_DNS_IP,
        )
        layout.kubelet_config.write_text(json.dumps(config, indent=2))
        argv = node_config.build_kubelet_argv(cluster.tool("kubelet"), layout, self.network)
        self._components.append(processes.start("kubelet", argv, log_dir=layout.workdir))
        self._wait(f"node {self.name} Ready", self._node_ready)

    def _write_certs(self) -> None:
        ca, ca_key = node_network.load_ca(self.cluster.ca_path)
        certs = node_config.build_node_certs(self.network, ca=ca, ca_key=ca_key)
        self.layout.pki_dir.mkdir(parents=True)
        for name, data in certs.items():
            path = self.layout.pki_dir / name
            path.write_bytes(data)
            path.chmod(0o600)

    def _node_ready(self) -> bool:
        jsonpath = '{.status.conditions[?(@.type=="Ready")].status}'
        result = self.cluster.kubectl(
            "get", "node", self.name, "-o", f"jsonpath={jsonpath}", check=False
        )
        return result.stdout.strip() == "True"

    def _delete_pods(self) -> None:
        self.cluster.kubectl(
            "delete", "pods", "--all-namespaces", f"--field-selector=spec.nodeName={self.name}",
            "--wait=true", f"--timeout={POD_DELETE_TIMEOUT}", check=False,
        )  # fmt: skip

    # --- helpers --------------------------------------------------------------------------

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        processes.wait_until(what, ready, timeout=START_TIMEOUT, watch=self._components)

    def _stop_component(self, name: str) -> None:
        for component in self._components:
            if component.name == name:
                component.stop()


def _write_owner(workdir: Path, network: node_config.Network) -> None:
    (workdir / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "index": network.index}))


def remove_node_state(workdir: Path, network: node_config.Network) -> None:
    """Cleans the host, then deletes ``workdir``, but never through a mount point (a
    hostPath bind mount would take host files with it)."""
    node_host.clean_host(workdir, network)
    if node_host.mounts_under(workdir):
        raise RuntimeError(f"mounts remain under {workdir}: {node_host.mounts_under(workdir)}")
    shutil.rmtree(workdir, ignore_errors=True)


def clean_stale() -> list[Path]:
    """Removes the state of every node whose runner is dead; returns their work dirs."""
    cleaned = []
    for workdir in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        owner = _read_owner(workdir)
        if owner is not None and not processes.is_alive(owner[0]):
            remove_node_state(workdir, node_config.Network(owner[1]))
            cleaned.append(workdir)
    # Their Service and NetworkPolicy rules, unless a live node has taken the host lock since.
    node_network.clean_unowned()
    return cleaned


def _read_owner(workdir: Path) -> tuple[int, int] | None:
    """(pid, network index), or None while the dir is being created."""
    try:
        owner = json.loads((workdir / OWNER_FILE).read_text())
        return int(owner["pid"]), int(owner["index"])
    except (OSError, ValueError, KeyError):
        return None


def main(argv: Sequence[str]) -> int:
    from tests.support import node_cli

    return node_cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
