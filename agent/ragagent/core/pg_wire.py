"""The few PostgreSQL wire-protocol pieces that TLS in front of a TLS-less libpq or server
needs, shared by the backup tools' client-side relay (``backup.tls_relay``) and the managed
database's server-side front (``core.pg_front``).

Before a connection's startup message a client may send one of three 8- or 16-byte
requests, each a length and a magic code: SSLRequest (the server answers 'S' and TLS
follows, or 'N'), GSSENCRequest (the same for GSSAPI encryption) and CancelRequest (the
backend's pid and secret key; the server answers nothing and closes).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct

SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
SSL_REQUEST = struct.pack("!ii", 8, SSL_REQUEST_CODE)
CANCEL_REQUEST_LENGTH = 16
_CHUNK = 65536
_CLOSE_NOTIFY_SECONDS = 1.0


def read_exactly(sock: socket.socket, size: int) -> bytes:
    """``size`` bytes from ``sock``; fewer only when the peer closed first."""
    data = b""
    while len(data) < size:
        part = sock.recv(size - len(data))
        if not part:
            break
        data += part
    return data


def build_error(message: str, *, code: str = "08P01") -> bytes:
    """A FATAL ErrorResponse, which libpq shows as the connection's error."""
    fields = b"".join(
        kind + value.encode() + b"\0"
        for kind, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


def pump(plain: socket.socket, secured: ssl.SSLSocket) -> None:
    """Copy bytes both ways until either side closes; then close both.

    One thread per pair: an SSL connection must not be read and written from two threads at
    once. Decrypted bytes OpenSSL already holds are taken before waiting on the sockets, as
    select() cannot see them.
    """
    peer: dict[socket.socket, socket.socket] = {plain: secured, secured: plain}
    try:
        with contextlib.suppress(OSError):
            while True:
                waiting = [plain, secured]
                ready = [secured] if secured.pending() else select.select(waiting, [], [])[0]
                for each in ready:
                    data = each.recv(_CHUNK)
                    if not data:
                        return
                    peer[each].sendall(data)
    finally:
        # close_notify first: without it a TLS peer reads an "unexpected eof" (libpq reports
        # a finished cancel request as failed); at most a second is spent waiting for its own.
        with contextlib.suppress(OSError, ValueError):
            secured.settimeout(_CLOSE_NOTIFY_SECONDS)
            secured.unwrap().close()
        for each in (plain, secured):
            with contextlib.suppress(OSError):
                each.close()
