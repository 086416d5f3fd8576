"""Pure builders of the control plane's command lines and objects: no processes, no I/O."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support import audit, pki

STAGES_PATH = Path(__file__).resolve().parent / "kwok-stages.yaml"
FAKE_NODE = "kwok-node-0"
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
SERVICE_CIDR = "10.0.0.0/24"
POD_CIDR = "10.244.0.1/16"
FAKE_NODE_IP = "10.200.0.1"


@dataclasses.dataclass(frozen=True)
class Ports:
    etcd: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int


def build_command(binary: Path, flags: Mapping[str, object]) -> list[str]:
    """``binary`` then ``--name=value`` for each flag, in order; a value of True is a bare
    ``--name`` (a switch)."""
    return [str(binary), *(f"--{n}" if v is True else f"--{n}={v}" for n, v in flags.items())]


def build_etcd_argv(binary: Path, *, data_dir: Path, ports: Ports) -> list[str]:
    url = f"http://127.0.0.1:{ports.etcd}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(binary), f"--data-dir={data_dir}",
        f"--listen-client-urls={url}", f"--advertise-client-urls={url}",
        f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        # Durability is pointless for a throw-away cluster and fsync dominates its latency.
        "--unsafe-no-fsync", "--log-level=warn",
    ]  # fmt: skip


def build_apiserver_argv(
    binary: Path, *, material: pki.Pki, ports: Ports, cert_dir: Path, pod_reachable: bool = False
) -> list[str]:
    """TLS with client certificates, RBAC only (system:masters bypasses it, nobody else does).

    ``pod_reachable`` (a control plane for a real node) binds every host address, so a pod
    can reach the API server at its node's IP, and leaves the ``kubernetes`` Service's
    endpoints to the node (``node_network``): the address it would advertise is not known
    until a node has one. A KWOK-only control plane listens on loopback only.
    """
    return [
        str(binary),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd}",
        *(["--bind-address=0.0.0.0", "--endpoint-reconciler-type=none"] if pod_reachable
          else ["--bind-address=127.0.0.1"]),
        "--advertise-address=127.0.0.1",
        f"--secure-port={ports.apiserver}",
        f"--tls-cert-file={material.serving_cert}",
        f"--tls-private-key-file={material.serving_key}",
        f"--client-ca-file={material.ca_cert}",
        "--authorization-mode=RBAC",
        f"--service-account-issuer=https://127.0.0.1:{ports.apiserver}",
        f"--service-account-key-file={material.sa_public}",
        f"--service-account-signing-key-file={material.sa_private}",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--allow-privileged=true",
        f"--cert-dir={cert_dir}",
        # Towards kubelets (only the real node, tests/support/node.py, has one): the node's
        # InternalIP, not its name, which nothing here resolves; the kubelet's serving cert
        # checked against our CA; and a client cert the kubelet authorizes.
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-certificate-authority={material.ca_cert}",
        f"--kubelet-client-certificate={material.kubelet_client_cert}",
        f"--kubelet-client-key={material.kubelet_client_key}",
        *build_aggregation_flags(material),
    ]  # fmt: skip


def build_aggregation_flags(material: pki.Pki) -> list[str]:
    """The aggregation layer, for metrics-server's metrics.k8s.io (tests/support/node_metrics.py).

    Extension servers trust the front-proxy client certificate and the X-Remote-* headers it
    sends. Aggregator routing dials a Service's endpoints, not its cluster IP, because no
    kube-proxy runs on the API server's host. A few flags and one key: no startup cost.
    """
    return [
        f"--requestheader-client-ca-file={material.ca_cert}",
        f"--requestheader-allowed-names={pki.FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={material.front_proxy_cert}",
        f"--proxy-client-key-file={material.front_proxy_key}",
        "--enable-aggregator-routing=true",
    ]  # fmt: skip


def build_audit_flags(*, policy: Path, log: Path) -> list[str]:
    """The API server's audit log: JSON lines, written before each response completes, never
    rotated, so a byte offset into it stays valid for the cluster's whole life."""
    return [
        f"--audit-policy-file={policy}", f"--audit-log-path={log}",
        "--audit-log-format=json",
        # Blocking: a write's line is in the file by the time its client has the response.
        "--audit-log-mode=blocking",
        # A max size of 0 appends to one plain file (the default rotates at 100 MB, moving
        # the lines a window's offset points at). A whole test session writes tens of MB.
        "--audit-log-maxsize=0", "--audit-log-maxbackup=0", "--audit-log-maxage=0",
    ]  # fmt: skip


def build_audit_policy() -> dict[str, Any]:
    """Every write to an object at Metadata level (who, what, which object; no bodies), once,
    and every request of READS_AUDITED_NAMESPACE's ServiceAccounts (the permission test's
    operator), reads included.

    Leases are heartbeats (the API server's own and kwok's node every 10 s), and token and
    access reviews are questions sent as creates: none is a test's subject, so none is kept.
    Events are kept: the operator writes some, and they pass through its request counter.
    """
    never = [
        {"group": "coordination.k8s.io", "resources": ["leases"]},
        {"group": "authentication.k8s.io", "resources": ["tokenreviews"]},
        {"group": "authorization.k8s.io", "resources": ["subjectaccessreviews"]},
    ]
    audited = f"system:serviceaccounts:{audit.READS_AUDITED_NAMESPACE}"
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "resources": never},
            {"level": "Metadata", "userGroups": [audited]},  # its reads too (audit.read_reads)
            {"level": "Metadata", "verbs": sorted(audit.WRITE_VERBS)},
            {"level": "None"},  # other reads: far more numerous, and no test counts them
        ],
    }


def _common_flags(kubeconfig: Path, port: int) -> list[str]:
    # The delegated kubeconfigs let their /metrics and /healthz check callers like real ones.
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1", f"--secure-port={port}", "--leader-elect=false",
    ]  # fmt: skip


def build_controller_manager_argv(
    binary: Path, *, kubeconfig: Path, material: pki.Pki, ports: Ports
) -> list[str]:
    """All default controllers: Deployments, GC, namespaces, ServiceAccount tokens, HPA, CronJob."""
    return [
        str(binary), *_common_flags(kubeconfig, ports.controller_manager),
        f"--root-ca-file={material.ca_cert}",
        f"--service-account-private-key-file={material.sa_private}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
    ]  # fmt: skip


def build_scheduler_argv(binary: Path, *, kubeconfig: Path, ports: Ports) -> list[str]:
    return [str(binary), *_common_flags(kubeconfig, ports.scheduler)]


def build_kwok_argv(binary: Path, *, kubeconfig: Path, ports: Ports) -> list[str]:
    """KWOK manages only nodes annotated as fake, with our own stages (it ships none)."""
    return [
        str(binary), f"--kubeconfig={kubeconfig}", f"--config={STAGES_PATH}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
        # kwok renews the node Lease, which is the node controller's heartbeat.
        "--node-lease-duration-seconds=40",
        f"--cidr={POD_CIDR}", f"--node-ip={FAKE_NODE_IP}",
        f"--server-address=127.0.0.1:{ports.kwok}",
    ]  # fmt: skip


def build_fake_node(name: str = FAKE_NODE) -> dict[str, Any]:
    """No taint: every test pod should land on it, unlike KWOK's usual advice."""
    labels = {"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "annotations": {FAKE_NODE_ANNOTATION: "fake"}, "labels": labels},
    }
