"""Who is calling: API keys (HMAC-hashed at rest) and JWT bearer tokens.

Credential checks raise ``errors.Unauthorized`` with a bounded ``reason``
(counted in ``ragagent_auth_failures_total``); scope checks raise
``errors.Forbidden``. Anonymous use is granted only in development and only
while no authentication is configured: once an API key exists or JWT
settings are present, every request must authenticate, in every mode.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread
import jwt

from ragagent.core import errors
from ragagent.core.metrics import AUTH_FAILURES
from ragagent.core.retry import retry_read
from ragagent.db import apikeys

if TYPE_CHECKING:
    from ragagent.core.config import Settings
    from ragagent.core.db import Database

log = logging.getLogger(__name__)

SCOPES = frozenset({"chat", "ingest", "admin"})
KEY_MARKER = "rag"
ANONYMOUS_ID = "anonymous"
_JWT_ALGORITHMS = {"HS256", "RS256", "ES256"}
_TOUCH_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``client_ip`` keys rate limits for anonymous callers."""

    id: str
    kind: Literal["anonymous", "apikey", "jwt"]
    scopes: frozenset[str]
    client_ip: str | None = None

    def has_scope(self, scope: str) -> bool:
        """``admin`` implies every other scope."""
        return scope in self.scopes or "admin" in self.scopes


def anonymous(client_ip: str | None) -> Principal:
    return Principal(id=ANONYMOUS_ID, kind="anonymous", scopes=SCOPES, client_ip=client_ip)


# --- API keys ------------------------------------------------------------------


def signing_secret(settings: Settings) -> bytes:
    """HMAC key for API-key hashes: the configured secret, else a per-data-dir file.

    The file fallback exists so ``make run`` works without configuration; it is
    created once with mode 0600 and reused by the CLI and the server alike.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip().encode()


def build_api_key() -> tuple[str, str]:
    """A fresh key ``rag_<prefix>_<secret>`` and its public prefix."""
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_MARKER}_{prefix}_{secrets.token_urlsafe(32)}"


def build_key_hash(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def parse_prefix(key: str) -> str | None:
    """The public prefix of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_MARKER or not parts[1] or not parts[2]:
        return None
    return parts[1]


def is_api_key(token: str) -> bool:
    return token.startswith(f"{KEY_MARKER}_")


# --- failures ------------------------------------------------------------------


def fail(reason: str, detail: str = "Invalid or missing credentials") -> errors.Unauthorized:
    """Count an authentication failure and build the error to raise."""
    AUTH_FAILURES.labels(reason=reason).inc()
    return errors.Unauthorized(detail, reason=reason)


def forbid(scope: str) -> errors.Forbidden:
    AUTH_FAILURES.labels(reason="insufficient_scope").inc()
    return errors.Forbidden(f"This credential lacks the '{scope}' scope")


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


# --- the authenticator -----------------------------------------------------------


class Authenticator:
    """Turns request credentials into a Principal; one per app (holds the JWKS cache)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._configured = self.jwt_configured
        self._warned = False
        self._touched: dict[int, float] = {}
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=300, timeout=5)
            if settings.jwt_jwks_url
            else None
        )

    @property
    def jwt_configured(self) -> bool:
        s = self.settings
        return bool(s.jwt_jwks_url or s.jwt_issuer or s.jwt_audience)

    async def is_configured(self) -> bool:
        """True once any auth exists; latched, so a later revocation never reopens the door."""
        if not self._configured:
            self._configured = await retry_read(lambda: apikeys.any_active(self.db))
        return self._configured

    async def allows_anonymous(self) -> bool:
        if self.settings.is_production:
            return False
        return self.settings.auth_disabled or not await self.is_configured()

    async def authenticate(self, token: str | None, *, client_ip: str | None) -> Principal:
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
            return anonymous(client_ip)
        raise fail("missing", "Credentials required: send 'Authorization: Bearer <token>'")

    async def _from_token(self, token: str) -> Principal:
        if is_api_key(token):
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

    async def _from_api_key(self, key: str) -> Principal:
        prefix = parse_prefix(key)
        if prefix is None:
            raise fail("malformed")
        record = await retry_read(lambda: apikeys.find_by_prefix(self.db, prefix))
        expected = build_key_hash(signing_secret(self.settings), key)
        if record is None or not hmac.compare_digest(record.key_hash, expected):
            raise fail("unknown_key")
        if not record.is_active:
            raise fail("revoked")
        self._configured = True
        await self._touch(record.id)
        principal_id = record.user_id or f"key:{record.id}"
        return Principal(id=principal_id, kind="apikey", scopes=record.scopes & SCOPES)

    async def _touch(self, key_id: int) -> None:
        now = time.monotonic()
        if now - self._touched.get(key_id, -_TOUCH_EVERY_SECONDS) >= _TOUCH_EVERY_SECONDS:
            self._touched[key_id] = now
            await apikeys.touch(self.db, key_id)

    async def _from_jwt(self, token: str) -> Principal:
        try:
            claims = await self._decode(token)
        except jwt.PyJWKClientConnectionError:
            # The identity provider's key set is unreachable: an outage, not bad credentials.
            log.warning("JWKS endpoint unreachable")
            raise errors.ServiceUnavailable("Token keys are unavailable; retry later") from None
        except jwt.PyJWTError as exc:
            raise fail(_jwt_reason(exc)) from None
        return Principal(id=str(claims["sub"]), kind="jwt", scopes=_claimed_scopes(claims))

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
            options={"require": ["exp", "sub"]},
        )

    async def _verification_key(self, token: str, algorithm: str) -> Any:
        """The key for ``algorithm``; HS256 never uses a JWKS key (no algorithm confusion)."""
        if algorithm not in _JWT_ALGORITHMS:
            raise jwt.InvalidAlgorithmError("unsupported algorithm")
        if algorithm == "HS256":
            if self.settings.secret_key is None:
                raise jwt.InvalidAlgorithmError("HS256 is not configured")
            return self.settings.secret_key.get_secret_value()
        if self._jwks is None:
            raise jwt.InvalidAlgorithmError("no JWKS URL configured")
        signing_key = await anyio.to_thread.run_sync(self._jwks.get_signing_key_from_jwt, token)
        return signing_key.key


def _claimed_scopes(claims: dict[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (space separated, OAuth 2) or ``scopes`` (a list)."""
    raw = claims.get("scope", claims.get("scopes", []))
    values = raw.split() if isinstance(raw, str) else raw
    return frozenset(str(v) for v in values if isinstance(v, str)) & SCOPES
