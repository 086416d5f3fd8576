"""A local web site for URL-source tests: a request handler served on loopback.

One server for every test that fetches documents over HTTP, quiet (no request lines in
the test output), stopped and closed when the test ends.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that does not log each request to stderr."""

    def log_message(self, *_: object) -> None:
        pass

    def reply(
        self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> None:
        """Answers ``status`` with ``headers`` and ``body``, its Content-Length added (0 for
        none, so that a client reading to the end does not wait for the connection to close)."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[str]:
    """``handler`` served on ``host`` (an IPv4 or IPv6 address) at a free port: yields the
    base URL, with an IPv6 address in brackets."""
    ipv6 = ":" in host
    server = (_IPv6Server if ipv6 else ThreadingHTTPServer)((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{f'[{host}]' if ipv6 else host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
