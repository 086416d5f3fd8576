"""One key per purpose, tokens that name their issuer and audience and live briefly, and
principals namespaced by credential kind (issue 15, keys and identities)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import jwt
import pytest

from ragagent.core import security
from ragagent.core.config import ConfigError, load_settings
from ragagent.core.metrics import AUTH_FAILURES
from ragagent.db import apikeys
from tests.agent.hardening import harness

HS256 = {
    "jwt_hs256_secret": harness.JWT_SECRET,
    "jwt_issuer": harness.ISSUER,
    "jwt_audience": harness.AUDIENCE,
}
JWKS = {"jwt_jwks_url": "https://idp.example/jwks.json"}


def hs256(secret: str, **claims: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


async def status(running: harness.RunningApp, token: str, path: str = "/v1/conversations") -> int:
    return (await running.client.get(path, headers=harness.bearer(token))).status_code


async def test_the_api_key_pepper_never_verifies_a_token(db_url: str, data_dir: str) -> None:
    """Whoever reads RAGAGENT_SECRET_KEY (the API-key pepper) cannot mint a token, with or
    without issuer and audience, in apiKey mode or with HS256 on."""
    exp = int(time.time()) + 300
    forged = [
        hs256(harness.SECRET, sub="mallory", scope="admin", exp=exp),
        hs256(
            harness.SECRET,
            sub="mallory",
            scope="admin",
            exp=exp,
            iss=harness.ISSUER,
            aud=harness.AUDIENCE,
        ),
    ]
    api_key_mode = {"jwt_hs256_secret": None, "jwt_issuer": None, "jwt_audience": None}
    for overrides in (api_key_mode, {}):
        async with harness.running_app(
            harness.build_settings(db_url, data_dir, **overrides)
        ) as running:
            key = await harness.create_key(running.state, scopes=["chat"])
            assert await status(running, key) == 200
            for token in forged:
                assert await status(running, token) == 401


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({**HS256, **JWKS}, "RAGAGENT_JWT_HS256_SECRET and RAGAGENT_JWT_JWKS_URL exclude"),
        ({**HS256, "jwt_issuer": None}, "RAGAGENT_JWT_ISSUER and RAGAGENT_JWT_AUDIENCE are"),
        (
            {**JWKS, "jwt_audience": harness.AUDIENCE},
            "RAGAGENT_JWT_ISSUER and RAGAGENT_JWT_AUDIENCE are",
        ),
        (
            {"jwt_issuer": harness.ISSUER, "jwt_audience": harness.AUDIENCE},
            "no key verifies tokens",
        ),
        ({**HS256, "jwt_hs256_secret": "short"}, "RAGAGENT_JWT_HS256_SECRET must be at least"),
        (
            {"secret_key": harness.SECRET, "secret_key_previous": harness.SECRET},
            "needs a different RAGAGENT_SECRET",
        ),
        ({"secret_key_previous": harness.SECRET}, "RAGAGENT_SECRET_KEY_PREVIOUS needs a different"),
    ],
)
def test_jwt_settings_that_cannot_verify_safely_are_refused(
    values: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings(**values)


def test_hs256_alone_or_jwks_alone_with_issuer_and_audience_load() -> None:
    assert load_settings(**HS256).jwt_enabled
    assert load_settings(
        **JWKS, jwt_issuer=harness.ISSUER, jwt_audience=harness.AUDIENCE
    ).jwt_enabled
    assert not load_settings().jwt_enabled


async def test_tokens_longer_lived_than_the_limit_are_refused(db_url: str, data_dir: str) -> None:
    now = int(time.time())
    claims = {"sub": "alice", "scope": "chat", "iss": harness.ISSUER, "aud": harness.AUDIENCE}
    reason = AUTH_FAILURES.labels(reason="too_long_lived")
    before = reason._value.get()
    settings = harness.build_settings(db_url, data_dir, jwt_max_lifetime_seconds=600)
    async with harness.running_app(settings) as running:
        assert await status(running, harness.build_token(exp_in=600)) == 200
        assert await status(running, harness.build_token(exp_in=601)) == 401
        # A token may hide its age by leaving iat out: then exp - now counts.
        assert await status(running, hs256(harness.JWT_SECRET, **claims, exp=now + 3600)) == 401
        assert await status(running, hs256(harness.JWT_SECRET, **claims, exp=now + 300)) == 200
        # Backdating iat does not stretch a token either: exp - iat counts.
        backdated = hs256(harness.JWT_SECRET, **claims, iat=now - 3000, exp=now + 300)
        assert await status(running, backdated) == 401
        assert await status(running, hs256(harness.JWT_SECRET, **claims)) == 401  # no exp at all
    assert reason._value.get() == before + 3


async def test_a_token_cannot_name_itself_into_an_api_keys_conversations(
    db_url: str, data_dir: str
) -> None:
    async with harness.running_app(harness.build_settings(db_url, data_dir)) as running:
        key = await harness.create_key(running.state, scopes=["chat"])
        shared = await harness.create_key(running.state, scopes=["chat"], user="alice")
        prefix = security.parse_prefix(key)
        assert prefix is not None
        record = await apikeys.find_by_prefix(running.state.db, prefix)
        assert record is not None
        paths = []
        for credential in (key, shared):
            created = await running.client.post(
                "/v1/chat", json={"message": "hello"}, headers=harness.bearer(credential)
            )
            assert created.status_code == 200, created.text
            paths.append(f"/v1/conversations/{created.json()['conversation_id']}")
            assert await status(running, credential, paths[-1]) == 200
        # Every spelling of the keys' owners, old and new, as a token's subject.
        subjects = [f"key:{record.id}", f"apikey:{record.id}", "alice", "apikey-user:alice"]
        for sub in subjects:
            token = harness.build_token(sub=sub)
            for path in paths:
                assert await status(running, token, path) == 404, (sub, path)
            listed = (
                await running.client.get("/v1/conversations", headers=harness.bearer(token))
            ).json()
            assert listed["conversations"] == [], sub


async def test_principal_ids_name_the_credential_kind_and_issuer(
    db_url: str, data_dir: str
) -> None:
    async with harness.running_app(harness.build_settings(db_url, data_dir)) as running:
        auth = running.state.auth
        key = await harness.create_key(running.state, scopes=["chat"], user="bob")
        assert (await auth.authenticate(key, client_ip=None)).id == "apikey-user:bob"
        token = harness.build_token(sub="bob")
        assert (await auth.authenticate(token, client_ip=None)).id == f"jwt:{harness.ISSUER}#bob"


async def test_rotating_either_key_leaves_api_keys_working(db_url: str, data_dir: str) -> None:
    """A new JWT key changes nothing for API keys; a new pepper beside the previous one keeps
    every key working and re-hashes each on first use, so the previous one can then go."""
    new_pepper, new_jwt = "rotated-pepper-" + "n" * 30, "rotated-jwt-secret-" + "m" * 30
    async with harness.running_app(harness.build_settings(db_url, data_dir)) as running:
        used = await harness.create_key(running.state, scopes=["chat"])
        idle = await harness.create_key(running.state, scopes=["chat"])
    rotations = [
        ({"jwt_hs256_secret": new_jwt}, {used: 200, idle: 200}),
        ({"secret_key": new_pepper, "secret_key_previous": harness.SECRET}, {used: 200}),
        ({"secret_key": new_pepper}, {used: 200, idle: 401}),
    ]
    for overrides, expected in rotations:
        async with harness.running_app(
            harness.build_settings(db_url, data_dir, **overrides)
        ) as running:
            for key, code in expected.items():
                assert await status(running, key) == code, overrides


async def test_an_admin_erases_a_token_subjects_data_by_its_namespaced_id(
    db_url: str, data_dir: str
) -> None:
    async with harness.running_app(harness.build_settings(db_url, data_dir)) as running:
        client, alice = running.client, harness.bearer(harness.build_token(sub="alice"))
        admin = harness.bearer(await harness.create_key(running.state, scopes=["admin"]))
        created = await client.post("/v1/chat", json={"message": "hello"}, headers=alice)
        assert created.status_code == 200, created.text
        principal = f"jwt:{harness.ISSUER}#alice"
        erased = await client.delete(f"/v1/users/{quote(principal, safe=':/')}/data", headers=admin)
        assert erased.status_code == 200, erased.text
        assert erased.json()["user_id"] == principal
        assert erased.json()["conversations_deleted"] == 1
        listed = (await client.get("/v1/conversations", headers=alice)).json()
        assert listed["conversations"] == []
