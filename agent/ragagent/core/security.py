"""Credentials apart from the database: principals and scopes, API keys, their HMAC
hashes and the secret that keys them, and the namespaced ids principals own data by.

``services.auth.Authenticator`` checks a request's credential against the
database and the JWT settings with these helpers; the ``apikey`` command makes
keys with them. Failures are built here so each is counted once in
``ragagent_auth_failures_total`` with a bounded ``reason``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ragagent.core import errors
from ragagent.core.metrics import AUTH_FAILURES

if TYPE_CHECKING:
    from ragagent.core.config import Settings

SCOPES = frozenset({"chat", "ingest", "admin"})
KEY_MARKER = "rag"
ANONYMOUS_ID = "anonymous"
# Principal id prefixes, one per credential kind (see api_key_principal_id).
APIKEY_PREFIX = "apikey:"
APIKEY_USER_PREFIX = "apikey-user:"
JWT_PREFIX = "jwt:"


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


def api_key_pepper(settings: Settings) -> bytes:
    """HMAC key for API-key hashes: RAGAGENT_SECRET_KEY, else a per-data-dir file.

    This key has no other use (HS256 tokens have their own), so rotating a JWT key never
    revokes API keys. Rotating this one does: every key must then be created again.
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


def api_key_principal_id(key_id: int, user_id: str | None) -> str:
    """Who owns what an API key does: the key itself, or the user it was made for.

    Ids are namespaced by credential kind (and, for tokens, by issuer), so no token can
    name itself into an API key's conversations and no key into a token subject's.
    """
    return f"{APIKEY_USER_PREFIX}{user_id}" if user_id else f"{APIKEY_PREFIX}{key_id}"


def jwt_principal_id(issuer: str, subject: str) -> str:
    """``jwt:<issuer>#<sub>``: a subject means something only at the issuer that named it."""
    return f"{JWT_PREFIX}{issuer}#{subject}"


def generate_api_key() -> tuple[str, str]:
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
