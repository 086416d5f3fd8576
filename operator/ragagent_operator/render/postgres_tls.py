"""TLS for the managed database: a private CA per RagAgent, a server certificate for the
database Service's DNS names, the Secret that holds both, and the volumes that hand them out.

Why the operator issues them: an external database must be reached with
``sslmode=verify-full`` in production, and the managed one is no less worth protecting (its
traffic crosses the pod network). No cluster CA can be assumed (cert-manager is optional),
so each RagAgent gets its own CA, which signs exactly one thing: its database's server
certificate. The agent's pods trust that CA alone, so a certificate from anywhere else,
or for another name, is refused.

Who gets what: the Secret ``<name>-postgres-tls`` holds ``ca.crt``, ``ca.key``, ``tls.crt``
and ``tls.key``. The database pod mounts ``tls.crt`` and ``tls.key`` (its TLS front serves
them); the agent's pods and Jobs mount ``ca.crt`` only. ``ca.key`` is mounted nowhere: it
stays in the Secret so the operator can issue the next server certificate under the same
CA, which the clients then keep trusting without a restart.

Rotation: the server certificate lives a year and is replaced 30 days before it expires
(the front reads its files again when they change); the CA lives ten years and is replaced,
with a new server certificate, a year before it expires, or when the Secret is missing,
unreadable or names other hosts. The Secret is a plain one, not sealed: its values are made
in the cluster and never leave it, and the operator must read them back to renew them.

Everything here is pure except the key generation and the clock, both passed in or made
here on request (``build_tls_values`` takes ``now``), so a render test can pin them.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from typing import Any

from cryptography import exceptions, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ragagent_operator import constants as c
from ragagent_operator.render import common

KEY_CA_CERT = "ca.crt"
KEY_CA_KEY = "ca.key"
KEY_TLS_CERT = "tls.crt"
KEY_TLS_KEY = "tls.key"
CA_LIFETIME = datetime.timedelta(days=3650)
CA_RENEW_BEFORE = datetime.timedelta(days=365)
SERVER_LIFETIME = datetime.timedelta(days=365)
SERVER_RENEW_BEFORE = datetime.timedelta(days=30)
BACKDATE = datetime.timedelta(minutes=5)  # small clock differences between nodes
# Where pods find the files (read-only Secret volumes).
CLIENT_CA_DIR = "/etc/ragagent/postgres-ca"
CLIENT_CA_FILE = f"{CLIENT_CA_DIR}/{KEY_CA_CERT}"
SERVER_TLS_DIR = "/etc/ragagent/postgres-tls"
CLIENT_VOLUME = "postgres-ca"
SERVER_VOLUME = "postgres-tls"


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM (PKCS#8, unencrypted) private key."""

    cert: bytes
    key: bytes


def tls_secret_name(agent: common.Agent) -> str:
    return common.name_of(agent, "postgres-tls")


def build_dns_names(agent: common.Agent) -> list[str]:
    """Every name a client may use for the database Service; the URL uses ``<svc>.<ns>.svc``."""
    # postgres.postgres_name; not imported, as postgres imports the front, which imports this.
    service = common.name_of(agent, "postgres")
    namespace = agent.namespace
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.{agent.cluster_domain}",
    ]


def build_client_url_params() -> str:
    """The query the agent's pods add to the managed database URL: verify the server's name
    against the RagAgent's own CA."""
    return f"sslmode=verify-full&sslrootcert={CLIENT_CA_FILE}"


def build_ca(agent: common.Agent, *, now: datetime.datetime) -> KeyPair:
    """A new CA that may sign server certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _ca_common_name(agent))])
    builder = _base(name, name, key.public_key(), now, CA_LIFETIME)
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    usage = _key_usage(cert_sign=True)
    builder = builder.add_extension(usage, critical=True)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )
    return KeyPair(_cert_pem(builder.sign(key, hashes.SHA256())), _key_pem(key))


def build_server_certificate(
    agent: common.Agent, ca: KeyPair, *, now: datetime.datetime
) -> KeyPair:
    """A server certificate for ``build_dns_names``, signed by ``ca``."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    ca_key = serialization.load_pem_private_key(ca.key, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey), "the CA key is the one build_ca made"
    key = ec.generate_private_key(ec.SECP256R1())
    names = build_dns_names(agent)
    # The SANs are what clients check; a CN holds at most 64 characters, a full name more.
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])])
    lifetime = min(SERVER_LIFETIME, ca_cert.not_valid_after_utc - now)
    builder = _base(subject, ca_cert.subject, key.public_key(), now, lifetime)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    builder = builder.add_extension(_key_usage(cert_sign=False), critical=True)
    server_auth = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    builder = builder.add_extension(server_auth, critical=False)
    san = x509.SubjectAlternativeName([x509.DNSName(name) for name in names])
    builder = builder.add_extension(san, critical=False)
    authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    builder = builder.add_extension(authority, critical=False)
    return KeyPair(_cert_pem(builder.sign(ca_key, hashes.SHA256())), _key_pem(key))


def build_tls_values(
    agent: common.Agent, current: dict[str, bytes], *, now: datetime.datetime
) -> dict[str, bytes]:
    """The Secret's values: ``current`` when it is still good, else renewed material.

    The CA is kept while it is valid for more than CA_RENEW_BEFORE; the server certificate
    while it is valid for more than SERVER_RENEW_BEFORE, names ``build_dns_names`` and was
    signed by the kept CA. Anything unreadable counts as due.
    """
    ca = KeyPair(current.get(KEY_CA_CERT, b""), current.get(KEY_CA_KEY, b""))
    if is_due(ca.cert, now=now, renew_before=CA_RENEW_BEFORE) or not ca.key:
        ca = build_ca(agent, now=now)
    server = KeyPair(current.get(KEY_TLS_CERT, b""), current.get(KEY_TLS_KEY, b""))
    if not server.key or not is_server_certificate_good(agent, server.cert, ca.cert, now=now):
        server = build_server_certificate(agent, ca, now=now)
    return {KEY_CA_CERT: ca.cert, KEY_CA_KEY: ca.key, KEY_TLS_CERT: server.cert,
            KEY_TLS_KEY: server.key}  # fmt: skip


def is_due(cert_pem: bytes, *, now: datetime.datetime, renew_before: datetime.timedelta) -> bool:
    """True when the certificate is unreadable or expires within ``renew_before``."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return True
    return cert.not_valid_after_utc - now < renew_before


def is_server_certificate_good(
    agent: common.Agent, cert_pem: bytes, ca_pem: bytes, *, now: datetime.datetime
) -> bool:
    """Whether the server certificate may stay: not due, the right names, issued by the CA."""
    if is_due(cert_pem, now=now, renew_before=SERVER_RENEW_BEFORE):
        return False
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    except (x509.ExtensionNotFound, ValueError, TypeError, exceptions.InvalidSignature):
        return False
    return names.get_values_for_type(x509.DNSName) == build_dns_names(agent)


def build_tls_secret(agent: common.Agent, values: dict[str, bytes]) -> common.Manifest:
    """The owned Secret, written as ``data`` so the operator can read it back to renew."""
    data = {key: base64.b64encode(value).decode() for key, value in sorted(values.items())}
    meta = common.metadata(agent, tls_secret_name(agent), c.COMPONENT_DATABASE)
    return common.child("v1", "Secret", meta, type="Opaque", data=data)


def build_client_volumes(agent: common.Agent) -> list[dict[str, Any]]:
    """The CA certificate alone, for the agent's pods and Jobs (never a key); none without a
    managed database."""
    if not agent.managed_db:
        return []
    items = [{"key": KEY_CA_CERT, "path": KEY_CA_CERT}]
    return [_secret_volume(agent, CLIENT_VOLUME, items, mode=0o444)]


def build_client_mounts(agent: common.Agent) -> list[dict[str, Any]]:
    if not agent.managed_db:
        return []
    return [{"name": CLIENT_VOLUME, "mountPath": CLIENT_CA_DIR, "readOnly": True}]


def build_server_volume(agent: common.Agent) -> dict[str, Any]:
    """The server certificate and key, for the database pod's TLS front only (group-read:
    the pod's fsGroup, never others)."""
    items = [{"key": KEY_TLS_CERT, "path": KEY_TLS_CERT}, {"key": KEY_TLS_KEY, "path": KEY_TLS_KEY}]
    return _secret_volume(agent, SERVER_VOLUME, items, mode=0o440)


def _secret_volume(
    agent: common.Agent, name: str, items: list[dict[str, str]], *, mode: int
) -> dict[str, Any]:
    source = {"secretName": tls_secret_name(agent), "items": items, "defaultMode": mode}
    return {"name": name, "secret": source}


def _ca_common_name(agent: common.Agent) -> str:
    # A CN holds at most 64 characters; the namespace and name are each up to 63.
    return f"ragagent database CA {agent.namespace}/{agent.name}"[:64]


def _base(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime, lifetime: datetime.timedelta,
) -> x509.CertificateBuilder:  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
