"""The connection to the API server: credentials found by kopf, TLS, and one pooled client.

``connect`` makes the process's one ``Api``; a ServiceAccount token that rotates is
picked up again on a 401. Nothing here sends a request of its own.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import tempfile
from collections.abc import Generator
from dataclasses import dataclass, field

import httpx
import kopf

from ragagent_operator.k8s.errors import ApiError

# In-flight requests per process. httpx's pool scans every waiting request on each
# hand-out, so letting hundreds queue inside it burns more CPU than the requests do;
# they wait on this semaphore instead, and the pool never has more than it can serve.
# Each hand-out also checks every pooled connection for expiry (a socket poll each): with
# 32 connections that was about a quarter of the operator's CPU in the 200-RagAgent bench,
# and 8 in flight keep the API server as busy (CPU until reconciled 8.2 s vs 8.9-12.7 s).
MAX_IN_FLIGHT = 8


@dataclass
class Api:
    """An authenticated async client; create one per process with ``connect``."""

    http: httpx.AsyncClient
    discovery: dict[str, tuple[float, bool]] = field(default_factory=dict)
    in_flight: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_IN_FLIGHT))


def login() -> kopf.ConnectionInfo:
    """kopf's own credential loaders: the in-cluster ServiceAccount, else the kubeconfig
    (KUBECONFIG or ~/.kube/config). Raises ApiError when there are neither."""
    settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise ApiError(401, "no credentials: neither a ServiceAccount token nor a kubeconfig")
    return info


class _TokenAuth(httpx.Auth):
    """Bearer token; on a 401 it logs in again once and retries (ServiceAccount tokens rotate)."""

    def __init__(self, info: kopf.ConnectionInfo) -> None:
        self.info = info

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield self._sign(request)
        if response.status_code == 401:
            self.info = login()
            yield self._sign(request)

    def _sign(self, request: httpx.Request) -> httpx.Request:
        request.headers.update(self.info.as_http_headers())
        return request


def _tls_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    """Verification and client certificate from the connection info (inline data or files)."""
    if info.insecure:
        return False
    context = ssl.create_default_context(cafile=_path(info.ca_path), cadata=_text(info.ca_data))
    cert = _path(info.certificate_path) or _materialize(info.certificate_data)
    key = _path(info.private_key_path) or _materialize(info.private_key_data)
    if cert:
        context.load_cert_chain(cert, key)
    return context


def _path(value: str | bytes | os.PathLike[str] | os.PathLike[bytes] | None) -> str | None:
    return os.fsdecode(value) if value else None


def _text(data: str | bytes | None) -> str | None:
    """kubeconfig ``*-data`` fields are base64 of PEM text."""
    return base64.b64decode(data).decode() if data else None


def _materialize(data: str | bytes | None) -> str | None:
    """ssl reads client certificates and keys only from files: write inline data to one."""
    if not data:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as sink:
        sink.write(_text(data) or "")
    os.chmod(sink.name, 0o600)
    return sink.name


def connect(*, timeout: float = 30.0) -> Api:
    """A client for the API server that ``login`` finds."""
    info = login()
    http = httpx.AsyncClient(
        base_url=info.server,
        verify=_tls_context(info),
        auth=_TokenAuth(info),
        timeout=timeout,
        limits=httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT),
        trust_env=info.trust_env,
    )
    return Api(http=http)


async def close(api: Api) -> None:
    """Close the client's connections (at shutdown)."""
    await api.http.aclose()
