"""Certificates and keys for the test control plane, generated with ``cryptography``.

Everything here is throw-away material for a cluster that lives in a temp directory; keys are
written unencrypted and certificates are valid for a few days only.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=7)
# Starting validity a little in the past hides small clock differences between processes.
BACKDATE = datetime.timedelta(minutes=5)
# The one common name the API server's request-header authenticator accepts: only the
# aggregator's own client certificate may assert a user in X-Remote-* headers.
FRONT_PROXY_CLIENT = "front-proxy-client"
# The ``kubernetes`` Service (the first address of the Service range, 10.0.0.0/24), which pods
# dial as KUBERNETES_SERVICE_HOST, and its DNS names: the API server's certificate must name
# them, as kubeadm's does, for a pod to verify it.
KUBERNETES_SERVICE_IP = "10.0.0.1"
KUBERNETES_SERVICE_NAMES = (
    "kubernetes", "kubernetes.default", "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Pki:
    """Paths of every PEM file the control plane needs."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_public: Path
    sa_private: Path
    sealing_cert: Path
    sealing_key: Path
    # The API server's client certificate towards kubelets (logs, exec, port-forward).
    kubelet_client_cert: Path
    kubelet_client_key: Path
    # The aggregation layer's client certificate towards extension API servers
    # (metrics-server), which trust it through --requestheader-client-ca-file.
    front_proxy_cert: Path
    front_proxy_key: Path


def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#1 ("RSA PRIVATE KEY"): the form the sealed-secrets controller expects in its Secret."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
    )


def build_ca(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    name = _name(common_name)
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    return (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )


def build_leaf(
    key: rsa.RSAPrivateKey,
    *,
    ca: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    subject: x509.Name,
    server: bool,
    ips: tuple[str, ...] = ("127.0.0.1",),
    dns_names: tuple[str, ...] = (),
) -> x509.Certificate:
    """A certificate signed by ``ca``: a serving cert for localhost, ``dns_names`` and
    ``ips``, or a client cert (which ignores both)."""
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = _builder(subject, ca.subject, key).add_extension(
        x509.ExtendedKeyUsage([usage]), critical=False
    )
    if server:
        addresses = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        dns = [x509.DNSName(name) for name in ("localhost", *dns_names)]
        names: list[x509.GeneralName] = [*dns, *addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def build_self_signed(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    """The sealed-secrets sealing certificate: self-signed, like the controller's own."""
    name = _name(common_name, "sealed-secret")
    return _builder(name, name, key).sign(key, hashes.SHA256())


def load_ca_key(path: Path) -> rsa.RSAPrivateKey:
    """The CA's private key (``Pki.ca_key``), to sign certificates for programs the tests
    start later, such as a real node's kubelet and metrics-server."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{path} is not an RSA key")
    return key


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def write_pki(directory: Path) -> Pki:
    """Creates a fresh CA, serving, admin, service-account and sealing material in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = new_key()
    ca = build_ca(ca_key, "ragagent-test-ca")
    serving_key, admin_key, sa_key = new_key(), new_key(), new_key()
    serving = build_leaf(
        serving_key, ca=ca, ca_key=ca_key, subject=_name("kube-apiserver"), server=True,
        ips=("127.0.0.1", KUBERNETES_SERVICE_IP), dns_names=KUBERNETES_SERVICE_NAMES,
    )  # fmt: skip
    admin_subject = _name("ragagent-admin", "system:masters")
    admin = build_leaf(admin_key, ca=ca, ca_key=ca_key, subject=admin_subject, server=False)
    # Like kubeadm's apiserver-kubelet-client: kubelets authorize it through a
    # SubjectAccessReview, which system:masters passes.
    kubelet_client_key = new_key()
    kubelet_client_subject = _name("kube-apiserver-kubelet-client", "system:masters")
    kubelet_client = build_leaf(
        kubelet_client_key, ca=ca, ca_key=ca_key, subject=kubelet_client_subject, server=False
    )
    front_proxy_key = new_key()
    front_proxy = build_leaf(
        front_proxy_key, ca=ca, ca_key=ca_key, subject=_name(FRONT_PROXY_CLIENT), server=False
    )
    # 4096 bits matches the keys the sealed-secrets controller makes for itself.
    sealing_key = new_key(4096)
    sealing = build_self_signed(sealing_key, "sealed-secret")
    return Pki(
        ca_cert=_write(directory / "ca.crt", cert_pem(ca)),
        ca_key=_write(directory / "ca.key", key_pem(ca_key)),
        serving_cert=_write(directory / "apiserver.crt", cert_pem(serving)),
        serving_key=_write(directory / "apiserver.key", key_pem(serving_key)),
        admin_cert=_write(directory / "admin.crt", cert_pem(admin)),
        admin_key=_write(directory / "admin.key", key_pem(admin_key)),
        sa_public=_write(directory / "sa.pub", public_pem(sa_key)),
        sa_private=_write(directory / "sa.key", key_pem(sa_key)),
        sealing_cert=_write(directory / "sealing.crt", cert_pem(sealing)),
        sealing_key=_write(directory / "sealing.key", key_pem(sealing_key)),
        kubelet_client_cert=_write(directory / "kubelet-client.crt", cert_pem(kubelet_client)),
        kubelet_client_key=_write(directory / "kubelet-client.key", key_pem(kubelet_client_key)),
        front_proxy_cert=_write(directory / "front-proxy-client.crt", cert_pem(front_proxy)),
        front_proxy_key=_write(directory / "front-proxy-client.key", key_pem(front_proxy_key)),
    )
