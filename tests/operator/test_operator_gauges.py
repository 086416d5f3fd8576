"""The operator's per-RagAgent and sealing-certificate gauges, read back from the registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from prometheus_client import REGISTRY

from ragagent_operator import metrics, sealing

EXPIRES = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)


def self_signed_pem(not_after: datetime) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secrets")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=3650)).not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM)


def test_cert_expiry_is_the_certificates_not_valid_after() -> None:
    assert sealing.cert_expiry(self_signed_pem(EXPIRES)) == EXPIRES


def test_cert_expiry_of_garbage_is_a_sealing_error() -> None:
    with pytest.raises(sealing.SealingError):
        sealing.cert_expiry(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")


def _value(name: str, namespace: str, agent: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"namespace": namespace, "ragagent": agent})


def test_forget_agent_drops_only_that_ragagents_series() -> None:
    for agent in ("gone", "kept"):
        metrics.AGENT_READY_REPLICAS.labels("team", agent).set(2)
        metrics.AGENT_DESIRED_REPLICAS.labels("team", agent).set(3)
        metrics.BACKUP_SUCCESS.labels("team", agent).set(1)
        metrics.LAST_BACKUP_TIMESTAMP.labels("team", agent).set(EXPIRES.timestamp())
    metrics.forget_agent("team", "gone")
    for gauge in (
        metrics.AGENT_READY_REPLICAS,
        metrics.AGENT_DESIRED_REPLICAS,
        *metrics.BACKUP_GAUGES,
    ):
        assert _value(gauge._name, "team", "gone") is None
    assert _value("ragagent_operator_agent_desired_replicas", "team", "kept") == 3
    assert (
        _value("ragagent_operator_last_backup_timestamp_seconds", "team", "kept")
        == EXPIRES.timestamp()
    )
    metrics.forget_agent("team", "kept")
    metrics.forget_agent("team", "never-seen")  # no series: nothing to drop, no error
