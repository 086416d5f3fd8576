"""``spec.auth``, ``spec.rateLimit`` and ``spec.cors``: who may call the agent, and how often."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ragagent_operator import spec_base


class JwtSecretRef(spec_base.ApiModel):
    """The HS256 key: read by the agent's server only, never by a Job."""

    name: str = Field(description=spec_base.REFERENCED_NAME_DOC, max_length=253)
    key: str = Field(description="Key inside that Secret's data (>= 32 bytes).", max_length=253)


class Jwt(spec_base.ApiModel):
    # A shared secret beside the identity provider's keys would let whoever holds the secret
    # mint tokens the provider never issued; a key set fetched over plain http can be swapped
    # on the way.
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "has(self.jwksURL) != has(self.hs256SecretRef)",
            "auth.jwt needs exactly one of jwksURL (RS256/ES256) or hs256SecretRef (HS256)",
        ),
        (
            "!has(self.jwksURL) || self.jwksURL.startsWith('https://')",
            "auth.jwt.jwksURL must be an https:// URL",
        ),
    ]
    issuer: str = Field(description="Required iss claim.", max_length=2048)
    audience: str = Field(description="Required aud claim.", max_length=2048)
    jwks_url: str | None = Field(
        None,
        alias="jwksURL",
        description="https:// JWKS URL for RS256/ES256 tokens. NetworkPolicy egress opens its "
        "port for the agent (see networkPolicy.endpoints).",
        max_length=2048,
    )
    hs256_secret_ref: JwtSecretRef | None = Field(
        None,
        description="A Secret key holding the HS256 verification key, instead of jwksURL. "
        "Only the agent's server reads it; the operator's generated secret-key never "
        "verifies tokens.",
    )
    max_token_lifetime_seconds: int = Field(
        3600,
        description="Longest accepted token life (exp - iat); longer-lived tokens get 401.",
        ge=60,
        le=86400,
    )


class Auth(spec_base.ApiModel):
    # An unauthenticated agent answers (and spends LLM tokens for) anyone who reaches it, so
    # it is never the result of a typo or a copied sample: it takes a second, loud field.
    __cel__: ClassVar[spec_base.Cel] = [
        ("self.mode != 'jwt' || has(self.jwt)", "auth.mode jwt needs auth.jwt"),
        (
            "self.mode != 'none' || (has(self.allowUnauthenticated) && self.allowUnauthenticated)",
            "auth.mode none serves the API to anyone who can reach it: "
            "set auth.allowUnauthenticated: true to confirm",
        ),
    ]
    mode: Literal["apiKey", "jwt", "none"] = Field(
        "apiKey",
        description="apiKey: keys made with 'ragagent apikey'; jwt: bearer tokens; none: "
        "anonymous (demos only; needs allowUnauthenticated).",
    )
    jwt: Jwt | None = Field(None, description="Token checks for mode jwt.")
    allow_unauthenticated: bool = Field(
        False,
        description="DANGER: confirms mode none. The agent then runs in development mode "
        "and serves anyone who can reach it; the NetworkPolicy is the only gate.",
    )


class RateLimit(spec_base.ApiModel):
    requests_per_minute: int = Field(60, description="Requests per identity per minute.", ge=1)
    burst: int = Field(20, description="Extra requests allowed in a burst.", ge=0)
    tokens_per_day: int = Field(200000, description="LLM tokens per identity per day.", ge=0)
    storage: Literal["auto", "memory", "postgres"] = Field(
        "auto",
        description="Where the counters live. postgres: in the agent's own database, shared by "
        "every replica (the limits are the RagAgent's, not N times them) and kept across a "
        "roll, for about 2 ms more per request (three short transactions; make bench). "
        "memory: in each pod, so N replicas allow N times the limits and every restart "
        "resets them. auto: postgres when more "
        "than one replica is possible (replicas > 1, or autoscaling with maxReplicas > 1), "
        "else memory.",
    )


class Cors(spec_base.ApiModel):
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Exact origins allowed to call the API from a browser; no wildcards.",
        json_schema_extra={
            "maxItems": 64,
            "items": {"maxLength": 512},
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(o, !o.contains('*'))",
                    "message": "cors.allowedOrigins must not contain wildcards",
                }
            ],
        },
    )
