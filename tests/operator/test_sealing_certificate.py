"""The sealing certificate is checked before anything is sealed to it: validity and a pin."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from ragagent_operator import conditions, config, sealing
from tests.support import pki

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return pki.new_key()


def cert_between(key: rsa.RSAPrivateKey, start: datetime.datetime, end: datetime.datetime) -> bytes:
    """A self-signed sealing certificate valid from ``start`` to ``end``."""
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "sealed-secrets")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    return pki.cert_pem(cert)


def refusal(cert: bytes, pin: str | None = None) -> sealing.CertificateRefused:
    with pytest.raises(sealing.CertificateRefused) as caught:
        sealing.check_certificate(cert, now=NOW, pin=pin)
    return caught.value


def test_an_expired_certificate_is_refused_with_its_not_after(key: rsa.RSAPrivateKey) -> None:
    refused = refusal(cert_between(key, NOW - 30 * DAY, NOW - DAY))

    assert refused.reason == conditions.Reason.SEALING_CERT_EXPIRED
    assert "notAfter 2030-05-31T12:00:00+00:00" in str(refused)


def test_a_certificate_not_valid_yet_is_refused(key: rsa.RSAPrivateKey) -> None:
    refused = refusal(cert_between(key, NOW + DAY, NOW + 30 * DAY))

    assert refused.reason == conditions.Reason.SEALING_CERT_NOT_YET_VALID
    assert "not valid before 2030-06-02" in str(refused)


def test_a_valid_certificate_passes_with_and_without_its_pin(key: rsa.RSAPrivateKey) -> None:
    cert = cert_between(key, NOW - DAY, NOW + DAY)
    der = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)

    assert sealing.cert_fingerprint(cert) == digest.finalize().hex()
    sealing.check_certificate(cert, now=NOW)
    sealing.check_certificate(cert, now=NOW, pin=sealing.cert_fingerprint(cert))


def test_another_certificate_than_the_pinned_one_is_refused(key: rsa.RSAPrivateKey) -> None:
    pinned = cert_between(key, NOW - DAY, NOW + DAY)
    substitute = cert_between(pki.new_key(), NOW - DAY, NOW + DAY)

    refused = refusal(substitute, pin=sealing.cert_fingerprint(pinned))

    assert refused.reason == conditions.Reason.SEALING_CERT_PIN_MISMATCH
    assert sealing.cert_fingerprint(pinned) in str(refused)


def test_the_pin_setting_takes_colon_separated_hex_and_rejects_anything_else() -> None:
    pin = "AB:" * 31 + "AB"
    settings = config.OperatorSettings(sealed_secrets_cert_sha256=pin)

    assert settings.sealed_secrets_cert_sha256 == "ab" * 32
    assert config.OperatorSettings(sealed_secrets_cert_sha256="").sealed_secrets_cert_sha256 is None
    with pytest.raises(ValidationError, match="64 hex digits"):
        config.OperatorSettings(sealed_secrets_cert_sha256="abc")
