"""Seal values for Bitnami sealed-secrets in Python (its ``HybridEncrypt`` format).

Each value is sealed separately:

    uint16_be(len(rsa)) || rsa || aes_gcm(session_key, nonce=0^12).encrypt(value)

where ``rsa`` is the random 32-byte AES-256 session key encrypted with RSA-OAEP
(SHA-256 for hash and MGF1) whose label is the scope label.  We only use strict
scope, label ``"<namespace>/<name>"``, so a sealed value cannot be replayed
into another Secret.  The zero nonce is safe because every session key is
fresh and used once.

Generated values (signing key, database password) are created here once; the
reconciler keeps the existing ciphertexts afterwards and never regenerates.
"""

from __future__ import annotations

import base64
import os
import secrets
import struct
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ragagent_operator import conditions

SESSION_KEY_BYTES = 32
ZERO_NONCE = bytes(12)


class SealingError(ValueError):
    """The certificate cannot be used to seal (not RSA, or unparsable)."""


class CertificateRefused(SealingError):
    """A well-formed certificate that must not be sealed to: expired, not yet valid, or not
    the pinned one. ``reason`` is the SecretsReady reason that says which."""

    def __init__(self, reason: conditions.Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def strict_label(namespace: str, name: str) -> bytes:
    return f"{namespace}/{name}".encode()


def load_public_key(cert_pem: bytes) -> rsa.RSAPublicKey:
    """The RSA public key of the controller's PEM certificate."""
    key = _load(cert_pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SealingError("the sealing certificate does not hold an RSA key")
    return key


def cert_expiry(cert_pem: bytes) -> datetime:
    """When the controller's PEM certificate stops being valid (UTC)."""
    return _load(cert_pem).not_valid_after_utc


def cert_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the certificate's DER encoding, lower-case hex (what a pin holds)."""
    return _sha256(_load(cert_pem).public_bytes(serialization.Encoding.DER))


def check_certificate(cert_pem: bytes, *, now: datetime, pin: str | None = None) -> None:
    """Raises CertificateRefused unless ``cert_pem`` is valid at ``now`` (UTC) and, given a
    ``pin`` (SHA-256 hex of its DER), is that certificate. A certificate an attacker or a stale
    cache substitutes would otherwise receive every value the operator seals."""
    cert = _load(cert_pem)
    after, before = cert.not_valid_after_utc, cert.not_valid_before_utc
    if now > after:
        message = f"the sealing certificate expired (notAfter {after.isoformat()}): nothing sealed"
        raise CertificateRefused(conditions.Reason.SEALING_CERT_EXPIRED, message)
    if now < before:
        message = f"the sealing certificate is not valid before {before.isoformat()} (notAfter "
        message += f"{after.isoformat()}): nothing sealed"
        raise CertificateRefused(conditions.Reason.SEALING_CERT_NOT_YET_VALID, message)
    if pin is not None and cert_fingerprint(cert_pem) != pin:
        message = f"the sealing certificate's SHA-256 {cert_fingerprint(cert_pem)} is not the "
        message += f"pinned {pin}: nothing sealed"
        raise CertificateRefused(conditions.Reason.SEALING_CERT_PIN_MISMATCH, message)


def _load(cert_pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise SealingError("the sealing certificate is not a PEM X.509 certificate") from exc


def _sha256(data: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize().hex()


def oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)


def hybrid_encrypt(key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    session_key = os.urandom(SESSION_KEY_BYTES)
    rsa_ct = key.encrypt(session_key, oaep(label))
    return (
        struct.pack(">H", len(rsa_ct))
        + rsa_ct
        + AESGCM(session_key).encrypt(ZERO_NONCE, plaintext, None)
    )


def seal_value(cert_pem: bytes, *, namespace: str, name: str, value: bytes) -> str:
    """Base64 ciphertext for ``spec.encryptedData`` of the SealedSecret ``namespace/name``."""
    key = load_public_key(cert_pem)
    sealed = hybrid_encrypt(key, value, strict_label(namespace, name))
    return base64.b64encode(sealed).decode()


def seal_values(
    cert_pem: bytes, *, namespace: str, name: str, values: dict[str, bytes]
) -> dict[str, str]:
    return {
        key: seal_value(cert_pem, namespace=namespace, name=name, value=value)
        for key, value in values.items()
    }


def generate_token(nbytes: int = 48) -> bytes:
    """A URL-safe random value (used for the signing key and database password)."""
    return secrets.token_urlsafe(nbytes).encode()
