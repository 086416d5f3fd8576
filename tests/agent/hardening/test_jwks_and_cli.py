"""RS256/ES256 tokens verified through a real JWKS endpoint (cached), and the apikey CLI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from ragagent.cli import app as cli_app
from ragagent.main import create_app
from tests.agent.hardening.harness import (
    AUDIENCE,
    ISSUER,
    bearer,
    build_settings,
    running_app,
)
from tests.support.fake_openai import ServerThread, free_port

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Jwks:
    """A JWKS endpoint that counts how often it is fetched."""

    def __init__(self) -> None:
        self.fetches = 0
        keys = [
            {
                **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key())),
                "kid": "rsa-1",
            },
            {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key())), "kid": "ec-1"},
        ]
        self.body = {"keys": [{**k, "use": "sig"} for k in keys]}
        self.app = Starlette(routes=[Route("/jwks.json", self.serve)])

    async def serve(self, _: Request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse(self.body)


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


async def test_rs256_and_es256_tokens_verify_through_a_cached_jwks(
    db_url: str, data_dir: str
) -> None:
    jwks = Jwks()
    server = ServerThread(jwks.app).__enter__()
    settings = build_settings(db_url, data_dir, jwt_jwks_url=f"{server.url}/jwks.json")
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


async def test_unreachable_jwks_is_503_not_401(db_url: str, data_dir: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}/jwks.json"
    async with running_app(build_settings(db_url, data_dir, jwt_jwks_url=dead)) as running:
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
