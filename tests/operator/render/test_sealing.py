"""Our Python sealing matches sealed-secrets' HybridEncrypt: reversed here, and by kubeseal."""

from __future__ import annotations

import base64
import json
import struct
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ragagent_operator import sealing
from ragagent_operator.render import secrets
from ragagent_operator.render.common import build_agent
from tests.support import pki, tools


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return pki.new_key()


@pytest.fixture(scope="module")
def cert(key: rsa.RSAPrivateKey) -> bytes:
    return pki.cert_pem(pki.build_self_signed(key, "sealed-secrets"))


def unseal(key: rsa.RSAPrivateKey, label: bytes, ciphertext_b64: str) -> bytes:
    """The same algorithm in reverse: RSA-OAEP(label) session key, then AES-GCM zero nonce."""
    blob = base64.b64decode(ciphertext_b64)
    (length,) = struct.unpack(">H", blob[:2])
    session_key = key.decrypt(blob[2 : 2 + length], sealing.oaep(label))
    return AESGCM(session_key).decrypt(sealing.ZERO_NONCE, blob[2 + length :], None)


def test_sealed_value_decrypts_with_the_private_key_and_strict_label(
    key: rsa.RSAPrivateKey, cert: bytes
) -> None:
    sealed = sealing.seal_value(cert, namespace="team", name="docs-generated", value=b"s3cret")
    assert unseal(key, b"team/docs-generated", sealed) == b"s3cret"


def test_strict_scope_refuses_another_name(key: rsa.RSAPrivateKey, cert: bytes) -> None:
    sealed = sealing.seal_value(cert, namespace="team", name="docs-generated", value=b"s3cret")
    with pytest.raises(ValueError, match="Decryption failed"):
        unseal(key, b"team/other", sealed)


def test_each_seal_uses_a_fresh_session_key(cert: bytes) -> None:
    one = sealing.seal_value(cert, namespace="n", name="a", value=b"same")
    two = sealing.seal_value(cert, namespace="n", name="a", value=b"same")
    assert one != two


def test_a_non_certificate_is_refused_clearly() -> None:
    with pytest.raises(sealing.SealingError, match="not a PEM"):
        sealing.seal_value(b"garbage", namespace="n", name="a", value=b"x")


def test_generated_tokens_are_long_and_unique() -> None:
    values = {sealing.generate_token() for _ in range(20)}
    assert len(values) == 20
    assert min(len(value) for value in values) >= 48


def test_kubeseal_recovery_unseal_reads_our_sealed_secret(
    key: rsa.RSAPrivateKey, cert: bytes, tmp_path: Path
) -> None:
    bin_dir = tools.tools_bin()
    if not (bin_dir / "kubeseal").exists():
        pytest.skip(f"kubeseal is not built yet in {bin_dir} (make tools)")
    agent = build_agent(
        {
            "metadata": {"name": "docs", "namespace": "team", "uid": "u"},
            "spec": {"database": {"managed": {}}},
        },
        default_image="img",
    )
    name = secrets.generated_secret_name(agent)
    encrypted = sealing.seal_values(
        cert, namespace="team", name=name, values={"secret-key": b"abc123"}
    )
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(pki.key_pem(key))
    manifest = yaml.safe_dump(secrets.build_sealed_secret(agent, name, encrypted))
    result = subprocess.run(
        [
            str(bin_dir / "kubeseal"),
            "--recovery-unseal",
            "--recovery-private-key",
            str(key_file),
            "-o",
            "json",
        ],
        input=manifest,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    secret = json.loads(result.stdout)
    assert secret["metadata"]["name"] == "docs-generated"
    assert base64.b64decode(secret["data"]["secret-key"]) == b"abc123"
