"""Pure builders for the real node (tests/support/node.py): containerd's config, the CNI
network, the KubeletConfiguration, the kubelet's command line and its certificates.
No processes, no I/O."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support import components, pki

NODE_NAME_PREFIX = "ragagent-real-node"
# Tests pick the real node explicitly: it carries this label and a NoSchedule taint with the
# same key, so every other test pod keeps landing on the KWOK node.
REAL_NODE_LABEL = "ragagent.dev/real-node"
CLUSTER_DOMAIN = "cluster.local"
POD_NETWORK_PREFIX = "10.222"
BRIDGE_PREFIX = "ragagent"
CNI_NETWORK_PREFIX = "ragagent-node"
# Node n takes the pod network 10.222.<n>.0/24, inside this range, which test_node_config
# checks meets none of the control plane's ranges (components) nor podman's on the host.
POD_NETWORKS = ipaddress.IPv4Network(f"{POD_NETWORK_PREFIX}.0.0/16")


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where one node keeps its state, everything below ``workdir``: build it with ``under``."""

    workdir: Path
    containerd_root: Path
    containerd_state: Path
    containerd_socket: Path
    containerd_config: Path
    cni_conf_dir: Path
    cni_ipam_dir: Path
    kubelet_root: Path
    kubelet_config: Path
    kubelet_kubeconfig: Path
    pki_dir: Path
    pod_logs: Path

    @classmethod
    def under(cls, workdir: Path) -> Layout:
        containerd, cni = workdir / "containerd", workdir / "cni"
        return cls(
            workdir=workdir,
            containerd_root=containerd / "root",
            containerd_state=containerd / "state",
            containerd_socket=containerd / "containerd.sock",
            containerd_config=containerd / "config.toml",
            cni_conf_dir=cni / "net.d",
            cni_ipam_dir=cni / "ipam",
            kubelet_root=workdir / "kubelet",
            kubelet_config=workdir / "kubelet-config.json",
            kubelet_kubeconfig=workdir / "kubelet.kubeconfig",
            pki_dir=workdir / "pki",
            pod_logs=workdir / "pod-logs",
        )


@dataclasses.dataclass(frozen=True)
class Network:
    """Node number ``index``: its pod network (a bridge whose gateway is the node's IP), its
    name and its cgroup root, all derived from the index so nodes never collide."""

    index: int

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"{POD_NETWORK_PREFIX}.{self.index}.0/24")

    @property
    def node_ip(self) -> str:
        return f"{POD_NETWORK_PREFIX}.{self.index}.1"

    @property
    def bridge(self) -> str:
        return f"{BRIDGE_PREFIX}{self.index}"

    @property
    def cni_name(self) -> str:
        return f"{CNI_NETWORK_PREFIX}-{self.index}"

    @property
    def node_name(self) -> str:
        return f"{NODE_NAME_PREFIX}-{self.index}"

    @property
    def cgroup_root(self) -> str:
        """The node's own cgroup root (kubepods go below it), so two nodes never share one."""
        return f"/{CNI_NETWORK_PREFIX}-{self.index}"


def _toml_value(value: object) -> str:
    """TOML scalars and string arrays; JSON's quoting is valid TOML for these."""
    return json.dumps(value)


def _toml_table(name: str, values: dict[str, object]) -> list[str]:
    return [f"[{name}]", *(f"  {key} = {_toml_value(v)}" for key, v in values.items()), ""]


def build_containerd_config(layout: Layout, *, sandbox_image: str) -> str:
    """containerd 2.x config (version 3) with its own root, state and sockets.

    ``restrict_oom_score_adj`` is required here: without CAP_SYS_RESOURCE the kubelet's
    oom_score_adj of -998 for the sandbox makes runc fail ("can't get final child's PID
    from pipe: EOF"). Network namespaces go under the state dir, not /run/netns, and NRI is
    off so nothing is written to /var/run/nri.
    """
    cri = "plugins.'io.containerd.cri.v1.runtime'"
    runc = f"{cri}.containerd.runtimes.runc"
    tables: list[tuple[str, dict[str, object]]] = [
        ("plugins.'io.containerd.cri.v1.images'", {"snapshotter": "overlayfs"}),
        ("plugins.'io.containerd.cri.v1.images'.pinned_images", {"sandbox": sandbox_image}),
        (cri, {"restrict_oom_score_adj": True, "netns_mounts_under_state_dir": True}),
        (f"{cri}.containerd", {"default_runtime_name": "runc"}),
        (runc, {"runtime_type": "io.containerd.runc.v2"}),
        (
            f"{runc}.options",
            {
                "BinaryName": "/usr/sbin/runc",
                "SystemdCgroup": False,
                # runc's own state, by default in /run/containerd/runc.
                "Root": str(layout.containerd_state / "runc"),
            },
        ),
        (f"{cri}.cni", {"bin_dirs": ["/usr/lib/cni"], "conf_dir": str(layout.cni_conf_dir)}),
        ("plugins.'io.containerd.grpc.v1.cri'", {"stream_server_address": "127.0.0.1"}),
        ("plugins.'io.containerd.nri.v1.nri'", {"disable": True}),
        ("plugins.'io.containerd.internal.v1.opt'", {"path": str(layout.workdir / "opt")}),
    ]
    head = [
        "version = 3",
        f"root = {_toml_value(str(layout.containerd_root))}",
        f"state = {_toml_value(str(layout.containerd_state))}",
        "",
        *_toml_table("grpc", {"address": str(layout.containerd_socket)}),
        *_toml_table("ttrpc", {"address": f"{layout.containerd_socket}.ttrpc"}),
    ]
    return "\n".join(head + [line for name, values in tables for line in _toml_table(name, values)])


def build_cni_conflist(layout: Layout, network: Network) -> dict[str, Any]:
    """bridge + host-local + portmap; containerd adds the loopback itself. The bridge's
    gateway address is the node IP, and pods leave the host masqueraded."""
    ipam = {
        "type": "host-local",
        "ranges": [[{"subnet": str(network.subnet), "gateway": network.node_ip}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": str(layout.cni_ipam_dir),
    }
    bridge = {
        "type": "bridge", "bridge": network.bridge, "isGateway": True, "ipMasq": True,
        "hairpinMode": True, "ipam": ipam,
    }  # fmt: skip
    portmap = {"type": "portmap", "capabilities": {"portMappings": True}}
    return {"cniVersion": "1.0.0", "name": network.cni_name, "plugins": [bridge, portmap]}


@dataclasses.dataclass(frozen=True)
class KubeletPorts:
    server: int
    healthz: int


def build_kubelet_config(
    layout: Layout, network: Network, *, ports: KubeletPorts, ca_cert: Path, dns_ip: str
) -> dict[str, Any]:
    """A kubelet for this host: cgroup v1 with cgroupfs, swap on, no node allocatable or
    eviction (a shared dev machine is always under some pressure), x509 + webhook auth."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False, "cgroupDriver": "cgroupfs", "failSwapOn": False,
        "enforceNodeAllocatable": [], "evictionHard": {},
        "imageGCHighThresholdPercent": 100,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "address": network.node_ip, "port": ports.server, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": ports.healthz,
        "tlsCertFile": str(layout.pki_dir / "kubelet.crt"),
        "tlsPrivateKeyFile": str(layout.pki_dir / "kubelet.key"),
        "authentication": {
            "anonymous": {"enabled": False}, "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca_cert)},
        },
        "authorization": {"mode": "Webhook"},
        "clusterDNS": [dns_ip], "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": "/etc/resolv.conf",
        "podLogsDir": str(layout.pod_logs),
        "volumePluginDir": str(layout.kubelet_root / "volume-plugins"),
        "rotateCertificates": False, "serverTLSBootstrap": False,
        "cgroupRoot": network.cgroup_root,
    }  # fmt: skip


def build_kubelet_argv(binary: Path, layout: Layout, network: Network) -> list[str]:
    return components.build_command(binary, {
        "config": layout.kubelet_config, "kubeconfig": layout.kubelet_kubeconfig,
        "root-dir": layout.kubelet_root,
        "hostname-override": network.node_name, "node-ip": network.node_ip,
        "node-labels": f"{REAL_NODE_LABEL}=true",
        "register-with-taints": f"{REAL_NODE_LABEL}=true:NoSchedule",
        "v": 1,
    })  # fmt: skip


def build_node_certs(
    network: Network, *, ca: x509.Certificate, ca_key: rsa.RSAPrivateKey
) -> dict[str, bytes]:
    """The kubelet's serving cert for its node IP, and its client cert as
    ``system:node:<name>`` in ``system:nodes``: PEM bytes by file name."""
    serving_key, client_key = pki.new_key(), pki.new_key()
    serving = pki.build_leaf(
        serving_key, ca=ca, ca_key=ca_key, subject=_subject(network.node_name), server=True,
        ips=(network.node_ip, "127.0.0.1"),
    )  # fmt: skip
    client_subject = _subject(f"system:node:{network.node_name}", "system:nodes")
    client = pki.build_leaf(client_key, ca=ca, ca_key=ca_key, subject=client_subject, server=False)
    return {
        "kubelet.crt": pki.cert_pem(serving),
        "kubelet.key": pki.key_pem(serving_key),
        "kubelet-client.crt": pki.cert_pem(client),
        "kubelet-client.key": pki.key_pem(client_key),
    }


def _subject(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def build_node_rbac() -> dict[str, Any]:
    """The API server runs RBAC only (no Node authorizer), so the built-in system:node role
    is bound to the system:nodes group, as kubeadm did before the Node authorizer."""
    group = "rbac.authorization.k8s.io"
    return {
        "apiVersion": f"{group}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "ragagent-real-nodes"},
        "roleRef": {"apiGroup": group, "kind": "ClusterRole", "name": "system:node"},
        "subjects": [{"apiGroup": group, "kind": "Group", "name": "system:nodes"}],
    }
