"""OTLP export follows the standard OTEL_* variables: on with an endpoint, off without.

Each case runs in a fresh interpreter, because a process can install its
global tracer provider only once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from tests.support import fresh_python

SCRIPT = """
from opentelemetry import trace
from ragagent.core import telemetry
active = telemetry.ensure_tracing()
with telemetry.span("retrieve", **{"retrieval.top_k": 3}):
    pass
provider = trace.get_tracer_provider()
if active:
    provider.force_flush()
print("active" if active else "inactive")
"""


class Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Collector)
    Collector.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(env: dict[str, str]) -> str:
    return fresh_python.run(SCRIPT, env=env, drop=lambda name: name.startswith("OTEL_"), timeout=60)


def test_spans_are_exported_over_otlp_http_when_an_endpoint_is_set(collector: str) -> None:
    assert run({"OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_SERVICE_NAME": "ra"}) == "active"
    paths = [path for path, _, _ in Collector.received]
    assert paths == ["/v1/traces"]
    _, content_type, body = Collector.received[0]
    assert content_type == "application/x-protobuf"
    assert b"retrieve" in body
    assert b"retrieval.top_k" in body
    assert b"ra" in body


def test_tracing_is_off_without_an_endpoint(collector: str) -> None:
    assert run({}) == "inactive"
    assert run({"OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_SDK_DISABLED": "true"}) == (
        "inactive"
    )
    assert Collector.received == []
