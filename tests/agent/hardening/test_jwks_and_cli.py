"""RS256/ES256 tokens verified through a real https JWKS endpoint (cached for the key set's
lifespan only), and the apikey CLI."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from ragagent.cli import app as cli_app
from ragagent.core.config import ConfigError, load_settings
from ragagent.main import create_app
from tests.agent.hardening.harness import (
    AUDIENCE,
    ISSUER,
    bearer,
    build_settings,
    running_app,
)
from tests.support import pki
from tests.support.fake_openai import ServerThread, free_port

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Jwks:
    """A JWKS endpoint that counts how often it is fetched; ``keys`` may change between
    fetches, as an identity provider's do when it rotates."""

    def __init__(self) -> None:
        self.fetches = 0
        self.keys = {
            "rsa-1": json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key())),
            "ec-1": json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key())),
        }
        self.app = Starlette(routes=[Route("/jwks.json", self.serve)])

    async def serve(self, _: Request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse(
            {"keys": [{**k, "kid": kid, "use": "sig"} for kid, k in self.keys.items()]}
        )


@pytest.fixture
def tls_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A serving certificate for 127.0.0.1 from a throw-away CA the agent trusts (through
    SSL_CERT_FILE, which the default TLS context reads), as a (cert, key) pair."""
    ca_key, leaf_key = pki.new_key(), pki.new_key()
    ca = pki.build_ca(ca_key, "jwks-test-ca")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwks")])
    leaf = pki.build_leaf(leaf_key, ca=ca, ca_key=ca_key, subject=subject, server=True)
    files = {"ca.pem": pki.cert_pem(ca), "jwks.pem": pki.cert_pem(leaf)}
    files["jwks-key.pem"] = pki.key_pem(leaf_key)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    return tmp_path / "jwks.pem", tmp_path / "jwks-key.pem"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_key(secret: bytes, claims: dict[str, Any]) -> str:
    """An HS256 token keyed with arbitrary bytes (PyJWT rightly refuses to make one)."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(mac)}"


def sign(key: Any, algorithm: str, kid: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "jwks-user", "scope": "chat", "iss": ISSUER, "aud": AUDIENCE,
               "iat": now, "exp": now + 300, **claims}  # fmt: skip
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


def jwks_settings(db_url: str, data_dir: str, url: str, **overrides: Any) -> Any:
    """The harness settings with the JWKS instead of its HS256 secret (never both)."""
    return build_settings(db_url, data_dir, jwt_hs256_secret=None, jwt_jwks_url=url, **overrides)


async def test_rs256_and_es256_tokens_verify_through_a_cached_jwks(
    db_url: str, data_dir: str, tls_pair: tuple[Path, Path]
) -> None:
    jwks = Jwks()
    server = ServerThread(jwks.app, tls=tls_pair).__enter__()
    settings = jwks_settings(db_url, data_dir, f"{server.url}/jwks.json")
    try:
        async with running_app(settings) as running:
            client = running.client

            async def status(token: str) -> int:
                response = await client.get("/v1/conversations", headers=bearer(token))
                return response.status_code

            assert await status(sign(RSA_KEY, "RS256", "rsa-1")) == 200
            assert await status(sign(EC_KEY, "ES256", "ec-1")) == 200
            assert await status(sign(RSA_KEY, "RS256", "rsa-1", sub="again")) == 200
            assert jwks.fetches == 1  # the key set is cached
            assert await status(sign(OTHER_RSA_KEY, "RS256", "rsa-1")) == 401  # bad signature
            assert await status(sign(OTHER_RSA_KEY, "RS256", "nope")) == 401  # unknown kid
            assert await status(sign(RSA_KEY, "RS256", "rsa-1", exp=int(time.time()) - 600)) == 401
            public_pem = RSA_KEY.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            # Algorithm confusion: an HS256 token "signed" with the public key is refused.
            claims = {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}
            assert await status(hs256_with_key(public_pem, claims)) == 401
            unsigned = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            none_alg = f"{unsigned}.{b64(json.dumps(claims).encode())}."
            assert await status(none_alg) == 401
            # Key-set refreshes are rate limited: a flood of unknown kids costs no fetches.
            for index in range(5):
                assert await status(sign(OTHER_RSA_KEY, "RS256", f"flood-{index}")) == 401
            assert jwks.fetches == 1
    finally:
        server.__exit__(None, None, None)


async def test_a_key_removed_from_the_jwks_stops_verifying_after_the_set_lifespan(
    db_url: str, data_dir: str, tls_pair: tuple[Path, Path]
) -> None:
    jwks = Jwks()
    jwks.keys["rsa-2"] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(OTHER_RSA_KEY.public_key()))
    with ServerThread(jwks.app, tls=tls_pair) as server:
        url = f"{server.url}/jwks.json"
        settings = jwks_settings(db_url, data_dir, url, jwt_jwks_lifespan_seconds=1.0)
        async with running_app(settings) as running:

            async def status(token: str) -> int:
                response = await running.client.get("/v1/conversations", headers=bearer(token))
                return response.status_code

            assert await status(sign(OTHER_RSA_KEY, "RS256", "rsa-2")) == 200
            del jwks.keys["rsa-2"]  # the identity provider retires the key
            assert await status(sign(OTHER_RSA_KEY, "RS256", "rsa-2")) == 200  # still cached
            await asyncio.sleep(1.2)
            assert await status(sign(OTHER_RSA_KEY, "RS256", "rsa-2")) == 401
            assert await status(sign(RSA_KEY, "RS256", "rsa-1")) == 200
    assert jwks.fetches == 2


def test_plain_http_jwks_urls_are_refused() -> None:
    with pytest.raises(ConfigError, match="RAGAGENT_JWT_JWKS_URL must be an https:// URL"):
        load_settings(
            jwt_jwks_url="http://idp.example/jwks.json",
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
        )


async def test_unreachable_jwks_is_503_not_401(db_url: str, data_dir: str) -> None:
    dead = f"https://127.0.0.1:{free_port()}/jwks.json"
    async with running_app(jwks_settings(db_url, data_dir, dead)) as running:
        token = sign(RSA_KEY, "RS256", "rsa-1")
        response = await running.client.get("/v1/conversations", headers=bearer(token))
    assert response.status_code == 503
    assert response.headers["retry-after"]


@pytest.fixture
def cli_env(db_url: str, data_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("RAGAGENT_DATA_DIR", data_dir)
    monkeypatch.setenv("RAGAGENT_SECRET_KEY", "cli-secret-" + "c" * 30)


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(cli_app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.usefixtures("cli_env")
def test_apikey_cli_creates_lists_and_revokes(db_url: str, data_dir: str) -> None:
    created = run_cli("apikey", "create", "--name", "ci", "--scopes", "chat,ingest", "--user", "u1")
    key = re.search(r"key:\s+(rag_\S+)", created)
    key_id = re.search(r"id:\s+(\d+)", created)
    assert key is not None
    assert key_id is not None
    listed = run_cli("apikey", "list")
    assert "ci" in listed
    assert "chat,ingest" in listed
    assert key.group(1) not in listed  # the clear key is shown once only
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT key_hash, prefix FROM api_keys").fetchall()
    assert key.group(1) not in str(stored)
    settings = build_settings(db_url, data_dir, secret_key="cli-secret-" + "c" * 30)
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/conversations", headers=bearer(key.group(1))).status_code == 200
        run_cli("apikey", "revoke", key_id.group(1))
        assert client.get("/v1/conversations", headers=bearer(key.group(1))).status_code == 401
    assert "revoked" in run_cli("apikey", "list")
    bad = CliRunner().invoke(cli_app, ["apikey", "create", "--name", "x", "--scopes", "root"])
    assert bad.exit_code == 2
    again = CliRunner().invoke(cli_app, ["apikey", "revoke", key_id.group(1)])
    assert again.exit_code == 1
