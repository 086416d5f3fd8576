"""Container images (``make images``): the size of each, and the agent container's cold start.

Cold start is the time from ``podman run`` of the agent image to its first ``/readyz`` 200,
run the way the operator runs it: uid 10001, read-only root with a tmpfs /tmp, every
capability dropped, production settings (DATABASE_URL, a 40-byte RAGAGENT_SECRET_KEY, no
sample ingestion). The database is a real PostgreSQL: the ragagent-postgres image, read-only,
uid 999, its data on a podman volume, reached over the podman network with a password. The
first start migrates the empty database; the later ones find it at head. The images are
built when missing (tests.support.images). Prints a table and a final JSON line.

    .venv/bin/python -m bench.images [--starts 3]
"""

from __future__ import annotations

import argparse
import logging
import secrets
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from bench import _report
from tests.support import images

log = logging.getLogger("bench.images")

DB_USER = "ragagent"
READY_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.05
HARDENED = ("--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")


def podman(*args: str) -> str:
    """Runs hack/podman with ``args``; returns stdout, raises CalledProcessError on failure."""
    done = subprocess.run(images.podman_command(*args), capture_output=True, text=True, check=True)
    return done.stdout.strip()


def podman_cleanup(*args: str) -> None:
    """Runs hack/podman with ``args`` for clean-up: a failure (already gone) is ignored."""
    subprocess.run(images.podman_command(*args), capture_output=True, check=False)


def container_logs(name: str) -> str:
    """The end of a container's output, stdout and stderr together (for error messages)."""
    done = subprocess.run(
        images.podman_command("logs", name),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return done.stdout[-2000:]


def size_mib(ref: str) -> float:
    return round(int(podman("image", "inspect", "--format", "{{.Size}}", ref)) / 2**20, 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def postgres(ref: str, password: str) -> Iterator[str]:
    """A running ragagent-postgres container; yields its address on the podman network."""
    name = f"ragagent-bench-pg-{secrets.token_hex(3)}"
    podman("volume", "create", name)
    try:
        podman(
            "run", "-d", "--name", name, *HARDENED, "--user", "999:999",
            "-v", f"{name}:/var/lib/postgresql/data:U",
            "-e", f"POSTGRES_USER={DB_USER}", "-e", f"POSTGRES_DB={DB_USER}",
            "-e", f"POSTGRES_PASSWORD={password}",
            "-e", "PGDATA=/var/lib/postgresql/data/pgdata",
            ref,
        )  # fmt: skip
        wait_for_postgres(name)
        yield podman("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name)
    finally:
        podman_cleanup("rm", "-f", name)
        podman_cleanup("volume", "rm", name)


def wait_for_postgres(name: str) -> None:
    """Until the server accepts TCP connections (it only listens once initialised)."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        check = images.podman_command("exec", name, "pg_isready", "-q", "-h", "127.0.0.1")
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{name} did not accept connections: {container_logs(name)}")


def agent_cold_start(ref: str, database_url: str) -> float:
    """Seconds from ``podman run`` to the first /readyz 200; the container is removed after."""
    name, port = f"ragagent-bench-agent-{secrets.token_hex(3)}", free_port()
    started = time.perf_counter()
    podman(
        "run", "-d", "--name", name, *HARDENED, "--user", "10001:10001",
        "--tmpfs", "/tmp",  # noqa: S108 - the container's own /tmp, as the operator mounts it
        "-p", f"127.0.0.1:{port}:8000",
        "-e", f"DATABASE_URL={database_url}",
        "-e", f"RAGAGENT_SECRET_KEY={secrets.token_urlsafe(30)}",
        "-e", "RAGAGENT_INGEST_SAMPLES_ON_START=false",
        ref,
    )  # fmt: skip
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", name)
        return time.perf_counter() - started
    finally:
        podman_cleanup("rm", "-f", name)


def wait_until_ready(url: str, name: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{name} never became ready: {container_logs(name)}")


def run(starts: int) -> dict[str, Any]:
    refs = images.image_refs()
    numbers: dict[str, Any] = {
        f"{name}_image_mib": size_mib(ref)
        for name, ref in (
            ("agent", refs.agent),
            ("operator", refs.operator),
            ("postgres", refs.postgres),
            ("base", refs.base),
        )
    }
    for name, path in (
        ("agent", refs.agent_archive),
        ("operator", refs.operator_archive),
        ("postgres", refs.postgres_archive),
    ):
        numbers[f"{name}_archive_mib"] = round(path.stat().st_size / 2**20, 1)
    password = secrets.token_urlsafe(18)
    with postgres(refs.postgres, password) as host:
        url = f"postgresql://{DB_USER}:{password}@{host}:5432/{DB_USER}"
        seconds = [round(agent_cold_start(refs.agent, url), 2) for _ in range(starts)]
    numbers["agent_cold_start_s"] = seconds
    numbers["agent_cold_start_first_s"] = seconds[0]
    if len(seconds) > 1:
        numbers["agent_cold_start_migrated_median_s"] = statistics.median(seconds[1:])
    return numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3, help="Agent starts to time (>= 1).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per /readyz poll otherwise
    try:
        numbers = run(max(1, args.starts))
    except images.ImagesUnavailableError as exc:
        log.error("!!! images unavailable, nothing measured: %s", exc)
        return 1
    _report.report("images", numbers, width=36)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
