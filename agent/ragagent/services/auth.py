"""Who is calling: an API key (looked up by its prefix, HMAC-hashed at rest) or a JWT.

Credential checks raise ``errors.Unauthorized`` with a bounded ``reason``
(counted in ``ragagent_auth_failures_total``); scope checks raise
``errors.Forbidden``. Anonymous use is granted only in development and only
while no authentication is configured: once an API key exists or JWT
settings are present, every request must authenticate, in every mode.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import jwt

from ragagent.core import errors, security
from ragagent.core.retry import retry_read
from ragagent.db import apikeys
from ragagent.services import key_lookup

if TYPE_CHECKING:
    from ragagent.core.config import Settings
    from ragagent.core.db import Database

log = logging.getLogger(__name__)

# HS256 verifies with the configured shared secret, the others with the JWKS; settings
# refuse both at once, so one agent accepts one family and algorithm confusion has no path.
_HS256 = ["HS256"]
_JWKS_ALGORITHMS = ["RS256", "ES256"]
_TOUCH_EVERY_SECONDS = 60.0


_JWT_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.PyJWKClientError, "unknown_key"),
)


def _jwt_reason(exc: Exception) -> str:
    for kind, reason in _JWT_REASONS:
        if isinstance(exc, kind):
            return reason
    return "malformed"


class Authenticator:
    """Turns request credentials into a Principal; one per app (holds the JWKS cache)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._unknown_prefixes = key_lookup.UnknownPrefixes(
            ttl=settings.apikey_negative_cache_seconds, size=settings.apikey_negative_cache_size
        )
        self._configured = self.jwt_configured
        self._warned = False
        self._touched: dict[int, float] = {}
        # The key set is cached for its lifespan only, never per key forever (cache_keys
        # would keep a key the identity provider removed until restart). An unknown kid
        # forces one refetch per cooldown, so a flood of made-up kids costs no requests.
        self._jwks = (
            jwt.PyJWKClient(
                settings.jwt_jwks_url,
                cache_keys=False,
                cache_jwk_set=True,
                lifespan=settings.jwt_jwks_lifespan_seconds,
                timeout=5,
            )
            if settings.jwt_jwks_url
            else None
        )

    @property
    def jwt_configured(self) -> bool:
        return self.settings.jwt_enabled

    async def is_configured(self) -> bool:
        """True once any auth exists; latched, so a later revocation never reopens the door."""
        if not self._configured:
            self._configured = await retry_read(lambda: apikeys.any_active(self.db))
        return self._configured

    async def allows_anonymous(self) -> bool:
        if self.settings.is_production:
            return False
        return self.settings.auth_disabled or not await self.is_configured()

    async def authenticate(self, token: str | None, *, client_ip: str | None) -> security.Principal:
        """The caller behind ``token`` (a bearer value or API key); anonymous if allowed."""
        if token:
            try:
                return await self._from_token(token)
            except errors.Unauthorized:
                # With no auth configured, anonymous callers already hold every
                # scope, so an unrecognised credential grants nothing more. The
                # openai SDK always sends some api_key; this lets it work with
                # `make run` out of the box. Never reached once auth exists.
                if not await self.allows_anonymous():
                    raise
        if await self.allows_anonymous():
            self._warn_once()
            return security.anonymous(client_ip)
        raise security.fail("missing", "Credentials required: send 'Authorization: Bearer <token>'")

    async def _from_token(self, token: str) -> security.Principal:
        if security.is_api_key(token):
            return await self._from_api_key(token)
        return await self._from_jwt(token)

    async def log_mode(self) -> None:
        """Say at start-up how callers are authenticated; loudly if they are not."""
        if await self.allows_anonymous():
            self._warn_once()
        else:
            log.info("authentication enforced (api keys or JWT)")

    def _warn_once(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "AUTHENTICATION IS OFF: anonymous callers have every scope. Create an API key "
                "(`ragagent apikey create`) or set RAGAGENT_JWT_* to enforce authentication."
            )

    async def _from_api_key(self, key: str) -> security.Principal:
        prefix = security.parse_prefix(key)
        if prefix is None:
            raise security.fail("malformed")
        record = await key_lookup.find_key(self.db, prefix, self._unknown_prefixes)
        # Hashed even for an unknown prefix, so timing tells nothing.
        expected = security.build_key_hash(security.api_key_pepper(self.settings), key)
        if record is None or not await self._hash_matches(record, key, expected):
            raise security.fail("unknown_key")
        if not record.is_active:
            raise security.fail("revoked")
        if record.is_expired():
            raise security.fail("expired", "This API key has expired")
        self._configured = True
        await self._touch(record.id)
        principal_id = security.api_key_principal_id(record.id, record.user_id)
        return security.Principal(
            id=principal_id, kind="apikey", scopes=record.scopes & security.SCOPES
        )

    async def _hash_matches(self, record: apikeys.ApiKeyRecord, key: str, expected: str) -> bool:
        """Whether ``key`` is the one ``record`` was made for (``expected`` is its hash with
        the current pepper). During a pepper rotation a key hashed with the previous pepper
        matches too, and is re-hashed with the current one."""
        if hmac.compare_digest(record.key_hash, expected):
            return True
        previous = self.settings.secret_key_previous
        if previous is None:
            return False
        old = security.build_key_hash(previous.get_secret_value().encode(), key)
        if not hmac.compare_digest(record.key_hash, old):
            return False
        await apikeys.rehash(self.db, record.id, old=old, new=expected)
        return True

    async def _touch(self, key_id: int) -> None:
        now = time.monotonic()
        if now - self._touched.get(key_id, -_TOUCH_EVERY_SECONDS) >= _TOUCH_EVERY_SECONDS:
            self._touched[key_id] = now
            await apikeys.touch(self.db, key_id)

    async def _from_jwt(self, token: str) -> security.Principal:
        try:
            claims = await self._decode(token)
        except jwt.PyJWKClientConnectionError:
            # The identity provider's key set is unreachable: an outage, not bad credentials.
            log.warning("JWKS endpoint unreachable")
            raise errors.ServiceUnavailable("Token keys are unavailable; retry later") from None
        except jwt.PyJWTError as exc:
            raise security.fail(_jwt_reason(exc)) from None
        self._check_lifetime(claims)
        principal_id = security.jwt_principal_id(str(claims["iss"]), str(claims["sub"]))
        return security.Principal(id=principal_id, kind="jwt", scopes=_claimed_scopes(claims))

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """Refuse tokens meant to live longer than the limit: a stolen one stays useful that
        long. ``exp - iat`` when the token says when it was issued, else ``exp - now``."""
        limit = self.settings.jwt_max_lifetime_seconds
        issued = claims.get("iat")
        if isinstance(issued, int | float):
            lifetime = float(claims["exp"]) - float(issued)
        else:
            lifetime = float(claims["exp"]) - time.time() - self.settings.jwt_leeway_seconds
        if lifetime > limit:
            raise security.fail("too_long_lived", f"Tokens may live at most {limit} seconds")

    async def _decode(self, token: str) -> dict[str, Any]:
        algorithm = str(jwt.get_unverified_header(token).get("alg", ""))
        key = await self._verification_key(token, algorithm)
        s = self.settings
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            leeway=s.jwt_leeway_seconds,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )

    async def _verification_key(self, token: str, algorithm: str) -> Any:
        """The key for ``algorithm``: the HS256 secret or a JWKS key, whichever is configured
        (never both), so no token can pick the family it is checked with."""
        secret = self.settings.jwt_hs256_secret
        if secret is not None:
            if algorithm not in _HS256:
                raise jwt.InvalidAlgorithmError("only HS256 is configured")
            return secret.get_secret_value()
        if self._jwks is None or algorithm not in _JWKS_ALGORITHMS:
            raise jwt.InvalidAlgorithmError("unsupported algorithm")
        signing_key = await anyio.to_thread.run_sync(self._jwks.get_signing_key_from_jwt, token)
        return signing_key.key


def _claimed_scopes(claims: dict[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (space separated, OAuth 2) or ``scopes`` (a list)."""
    raw = claims.get("scope", claims.get("scopes", []))
    values = raw.split() if isinstance(raw, str) else raw
    return frozenset(str(v) for v in values if isinstance(v, str)) & security.SCOPES
