"""Resource metrics for the real node: metrics-server, so ``kubectl top`` and the HPA see
real CPU.

metrics-server runs as a host process of the node runner, listening on the node IP (the
bridge's gateway, which the host's API server reaches). It scrapes the real kubelets'
``/metrics/resource`` as cluster admin, checking their serving certificates against the
cluster CA. The API server reaches it through the aggregation layer
(``components.build_aggregation_flags``): the APIService ``v1beta1.metrics.k8s.io`` names a
selector-less Service whose Endpoints hold the node IP and port.

A cluster has one such registration. A node registers its metrics-server only when none is
registered (a second node's kubelet is scraped by the first one anyway), and removes it at
stop only when it is its own.

``build_*`` are pure; ``ensure_*``, ``start_*`` and ``delete_*`` call out.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support import components, controlplane, node_config, pki, processes

METRICS_SERVER = "metrics-server"
NAMESPACE = "kube-system"
SERVICE = "ragagent-metrics-server"
API_SERVICE = "v1beta1.metrics.k8s.io"
# The shortest resolution metrics-server accepts; the HPA sees a new figure this often.
RESOLUTION = "10s"
CERT_VALIDITY = datetime.timedelta(days=7)


def build_serving_cert(
    node_ip: str, *, ca: x509.Certificate, ca_key: rsa.RSAPrivateKey
) -> tuple[bytes, bytes]:
    """(cert, key) PEM for the name the aggregator checks (``<service>.<namespace>.svc``)
    and for the node IP it dials."""
    key = pki.new_key()
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [
        x509.DNSName(f"{SERVICE}.{NAMESPACE}.svc"),
        x509.IPAddress(ipaddress.ip_address(node_ip)),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVICE)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - pki.BACKDATE)
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return pki.cert_pem(cert), pki.key_pem(key)


def build_argv(
    binary: Path, *, kubeconfig: Path, ca_cert: Path, cert_dir: Path, node_ip: str, port: int
) -> list[str]:
    """Only real nodes are scraped (KWOK's fake node has no kubelet), at the port each
    kubelet reports in its node status."""
    return components.build_command(binary, {
        "kubeconfig": kubeconfig,
        "authentication-kubeconfig": kubeconfig, "authorization-kubeconfig": kubeconfig,
        "bind-address": node_ip, "secure-port": port,
        "tls-cert-file": cert_dir / "serving.crt", "tls-private-key-file": cert_dir / "serving.key",
        "kubelet-certificate-authority": ca_cert, "kubelet-use-node-status-port": True,
        "kubelet-preferred-address-types": "InternalIP",
        "node-selector": f"{node_config.REAL_NODE_LABEL}=true",
        # The resolution must exceed the kubelet request timeout (10 s by default).
        "metric-resolution": RESOLUTION, "kubelet-request-timeout": "5s",
    })  # fmt: skip


def build_registration(node_ip: str, *, port: int, ca_pem: bytes) -> list[dict[str, Any]]:
    """The Service, its Endpoints (the host process) and the APIService."""
    meta = {"name": SERVICE, "namespace": NAMESPACE}
    service_port = {"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": meta,
               "spec": {"ports": [service_port]}}  # fmt: skip
    subset = {"addresses": [{"ip": node_ip}],
              "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}  # fmt: skip
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta, "subsets": [subset]}
    api_service = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": API_SERVICE},
        "spec": {
            "group": "metrics.k8s.io", "version": "v1beta1",
            "service": {"name": SERVICE, "namespace": NAMESPACE, "port": 443},
            "caBundle": base64.b64encode(ca_pem).decode(),
            "groupPriorityMinimum": 100, "versionPriority": 100,
        },
    }  # fmt: skip
    return [service, endpoints, api_service]


def start_metrics_server(
    cluster: controlplane.ControlPlane, layout: node_config.Layout, network: node_config.Network
) -> tuple[processes.Component, int]:
    """metrics-server with a serving cert from the cluster CA; returns it and its port."""
    cert_dir = layout.workdir / METRICS_SERVER
    cert_dir.mkdir(exist_ok=True)
    ca = x509.load_pem_x509_certificate(cluster.ca_path.read_bytes())
    ca_key = pki.load_ca_key(cluster.ca_path.with_name("ca.key"))
    cert, key = build_serving_cert(network.node_ip, ca=ca, ca_key=ca_key)
    (cert_dir / "serving.crt").write_bytes(cert)
    (cert_dir / "serving.key").write_bytes(key)
    (cert_dir / "serving.key").chmod(0o600)
    port = processes.free_port()
    argv = build_argv(
        cluster.tool(METRICS_SERVER), kubeconfig=cluster.kubeconfig_path,
        ca_cert=cluster.ca_path, cert_dir=cert_dir, node_ip=network.node_ip, port=port,
    )  # fmt: skip
    return processes.start(METRICS_SERVER, argv, log_dir=layout.workdir), port


def is_live(cluster: controlplane.ControlPlane, node_ip: str, port: int) -> bool:
    """metrics-server answers /livez (open to anyone) over TLS from the cluster CA."""
    context = ssl.create_default_context(cafile=str(cluster.ca_path))
    url = f"https://{node_ip}:{port}/livez"
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def registered_ip(cluster: controlplane.ControlPlane) -> str | None:
    """The address the registered metrics-server listens on; None when none is."""
    jsonpath = "{.subsets[0].addresses[0].ip}"
    args = ("get", "endpoints", SERVICE, "-n", NAMESPACE, "-o", f"jsonpath={jsonpath}")
    result = cluster.kubectl(*args, "--ignore-not-found", check=False)
    return result.stdout.strip() or None


def ensure_registration(
    cluster: controlplane.ControlPlane, network: node_config.Network, *, port: int
) -> bool:
    """Registers this node's metrics-server unless one is; True when it did."""
    if registered_ip(cluster) is not None:
        return False
    manifests = build_registration(network.node_ip, port=port, ca_pem=cluster.ca_path.read_bytes())
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"kind": "List", "apiVersion": "v1",
                                                          "items": manifests}))  # fmt: skip
    return True


def delete_registration(cluster: controlplane.ControlPlane, network: node_config.Network) -> None:
    """Removes the registration if it is this node's. Best effort."""
    if registered_ip(cluster) != network.node_ip:
        return
    cluster.kubectl("delete", "apiservice", API_SERVICE, "--ignore-not-found", check=False)
    cluster.kubectl(
        "delete", "service,endpoints", SERVICE, "-n", NAMESPACE, "--ignore-not-found", check=False
    )
