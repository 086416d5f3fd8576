"""The Bitnami sealed-secrets controller, run as a host process against the test control plane.

The controller only knows in-cluster configuration: it reads its token and CA from
/var/run/secrets/kubernetes.io/serviceaccount and the API address from KUBERNETES_SERVICE_*.
We give it a private mount namespace with a tmpfs over /run holding those files, so nothing on
the host changes and several clusters can run side by side.
"""

from __future__ import annotations

import base64
import os
import urllib.request
from pathlib import Path
from typing import Any

from tests.support import processes

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "sealed-secrets-controller"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
SUPPORT_DIR = Path(__file__).resolve().parent
CRD_PATH = SUPPORT_DIR / "sealedsecret-crd.yaml"
RBAC_PATH = SUPPORT_DIR / "sealed-secrets-rbac.yaml"

# Mounts a tmpfs over /run (so /var/run too) inside the new mount namespace, copies the
# service-account files in, then becomes the controller. $1 is the source dir, the rest argv.
_IN_CLUSTER_SHIM = (
    "set -e; mount -t tmpfs tmpfs /run; d=/run/secrets/kubernetes.io/serviceaccount; "
    'mkdir -p "$d"; cp "$1"/* "$d"/; shift; exec "$@"'
)


def build_key_secret(cert_pem: bytes, key_pem: bytes) -> dict[str, Any]:
    """The active sealing key Secret the controller loads at start instead of generating one."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": "sealed-secrets-key-ragagent-test",
            "namespace": NAMESPACE,
            "labels": {KEY_LABEL: "active"},
        },
        "data": {
            "tls.crt": base64.b64encode(cert_pem).decode(),
            "tls.key": base64.b64encode(key_pem).decode(),
        },
    }


def write_service_account_dir(directory: Path, *, token: str, ca_pem: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_bytes(ca_pem)
    (directory / "namespace").write_text(NAMESPACE)
    return directory


def build_argv(controller: Path, *, sa_dir: Path, port: int, metrics_port: int) -> list[str]:
    """unshare + shim + controller; unprivileged users get a user namespace to mount in."""
    unshare = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        unshare[1:1] = ["--user", "--map-root-user"]
    flags = [
        f"--listen-addr=127.0.0.1:{port}",
        f"--listen-metrics-addr=127.0.0.1:{metrics_port}",
        # No rotation: tests seal with the one key they know.
        "--key-renew-period=0",
    ]
    return [
        *unshare,
        "--",
        "sh",
        "-c",
        _IN_CLUSTER_SHIM,
        "sh",
        str(sa_dir),
        str(controller),
        *flags,
    ]


def start_controller(
    controller: Path, *, sa_dir: Path, api_port: int, log_dir: Path
) -> tuple[processes.Component, int]:
    """Starts the controller; returns it and its HTTP port (healthz, /v1/cert.pem)."""
    port, metrics_port = processes.free_ports(2)
    env = {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(api_port),
        "POD_NAMESPACE": NAMESPACE,
    }
    argv = build_argv(controller, sa_dir=sa_dir, port=port, metrics_port=metrics_port)
    return processes.start("sealed-secrets-controller", argv, log_dir=log_dir, env=env), port


def served_cert(port: int) -> bytes | None:
    """The controller's public certificate, or None while it is not serving yet."""
    try:
        url = f"http://127.0.0.1:{port}/v1/cert.pem"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bytes(response.read())
    except OSError:
        return None
