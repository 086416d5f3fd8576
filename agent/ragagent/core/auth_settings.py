"""The credential settings of the agent: API-key hashing, JWT verification, anonymous use.

A part of ``config.Settings`` (its base class), kept in a module of its own so the rules
that tie these fields together sit beside them. Each key has one purpose:

- ``RAGAGENT_SECRET_KEY`` keys the HMAC of every stored API key (the "pepper") and
  nothing else, so rotating a JWT key never revokes an API key; during its own rotation
  ``RAGAGENT_SECRET_KEY_PREVIOUS`` still verifies the keys hashed with the old value;
- ``RAGAGENT_JWT_HS256_SECRET`` verifies HS256 tokens, and only the server gets it;
- ``RAGAGENT_JWT_JWKS_URL`` (https only) verifies RS256/ES256 tokens.

HS256 and JWKS are never on together: a shared secret beside a public key set would let
whoever holds the secret mint tokens the identity provider never issued. Whenever a JWT
path is on, tokens must name the configured issuer and audience and live no longer than
``jwt_max_lifetime_seconds``.

Import-light like ``config``: the operator's image imports it without the agent's
dependencies.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

MIN_JWT_SECRET_BYTES = 32


class AuthSettings(BaseSettings):
    """Credential fields of ``Settings``; env names are ``RAGAGENT_<FIELD>``."""

    secret_key: SecretStr | None = Field(
        None,
        description="HMAC key (pepper) for API-key hashes, and only that; >= 32 bytes in "
        "production. Unset in development means a random key kept in data_dir.",
    )
    secret_key_previous: SecretStr | None = Field(
        None,
        description="The API-key pepper before a rotation: keys hashed with it still verify "
        "and are re-hashed with secret_key on first use. Unset once the rotation is done.",
    )
    auth_disabled: bool = Field(
        False, description="Explicitly allow anonymous use. Refused in production."
    )
    jwt_hs256_secret: SecretStr | None = Field(
        None,
        description="Key that verifies HS256 bearer tokens (>= 32 bytes); unset means HS256 "
        "tokens are refused. Never together with jwt_jwks_url.",
    )
    jwt_issuer: str | None = Field(None, description="Required `iss` of bearer tokens.")
    jwt_audience: str | None = Field(None, description="Required `aud` of bearer tokens.")
    jwt_jwks_url: str | None = Field(
        None, description="https:// JWKS URL for RS256/ES256 tokens; plain http is refused."
    )
    jwt_jwks_lifespan_seconds: float = Field(
        300.0,
        gt=0,
        le=86400,
        description="Seconds a fetched key set is trusted before it is fetched again, so a key "
        "the identity provider removed stops verifying within this time.",
    )
    jwt_max_lifetime_seconds: int = Field(
        3600,
        ge=60,
        le=86400,
        description="Longest accepted token life (seconds): exp - iat, or exp - now without "
        "iat. Tokens without exp are refused.",
    )
    jwt_leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew allowed.")

    @property
    def jwt_enabled(self) -> bool:
        """True when bearer tokens can be verified at all (HS256 or JWKS)."""
        return self.jwt_hs256_secret is not None or self.jwt_jwks_url is not None

    def auth_problems(self) -> list[str]:
        """What is wrong with the credential settings in any environment."""
        found = []
        if self.jwt_hs256_secret is not None and self.jwt_jwks_url is not None:
            found.append(
                "RAGAGENT_JWT_HS256_SECRET and RAGAGENT_JWT_JWKS_URL exclude each other: "
                "choose a shared secret or the identity provider's key set"
            )
        if self.jwt_jwks_url is not None and not self.jwt_jwks_url.startswith("https://"):
            found.append("RAGAGENT_JWT_JWKS_URL must be an https:// URL")
        hs256 = self.jwt_hs256_secret.get_secret_value() if self.jwt_hs256_secret else None
        if hs256 is not None and len(hs256.encode()) < MIN_JWT_SECRET_BYTES:
            found.append(f"RAGAGENT_JWT_HS256_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes")
        found.extend(self._claim_problems())
        previous, current = self.secret_key_previous, self.secret_key
        if previous is not None and (current is None or previous == current):
            found.append("RAGAGENT_SECRET_KEY_PREVIOUS needs a different RAGAGENT_SECRET_KEY")
        return found

    def _claim_problems(self) -> list[str]:
        """Issuer and audience are required by every JWT path, and mean nothing without one."""
        named = self.jwt_issuer or self.jwt_audience
        if self.jwt_enabled and not (self.jwt_issuer and self.jwt_audience):
            return ["RAGAGENT_JWT_ISSUER and RAGAGENT_JWT_AUDIENCE are required to verify JWTs"]
        if named and not self.jwt_enabled:
            return [
                "RAGAGENT_JWT_ISSUER/AUDIENCE are set but no key verifies tokens: set "
                "RAGAGENT_JWT_JWKS_URL or RAGAGENT_JWT_HS256_SECRET"
            ]
        return []
