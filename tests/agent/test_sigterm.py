"""SIGTERM ends the agent image's one-shot commands and the database's TLS front at once,
with exit code 143, instead of being ignored: in a container each is PID 1, which has no
default action for SIGTERM, so without a handler a pod stop waits out its whole grace period
(tests/containers/test_postgres_tls_container.py shows it for the rendered pod).

Both run as real processes here; a process that is not PID 1 would die of SIGTERM without a
handler (return code -15), so 143 is the handler's own exit."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ragagent.core import signals
from ragagent_operator.render import postgres_tls
from tests.agent import test_pg_front
from tests.support import processes

EXIT_BOUND_SECONDS = 30.0  # a bound on a hung process, not a speed target


def wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + EXIT_BOUND_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"not listening on {port}: {process.communicate()}")


def terminate(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=EXIT_BOUND_SECONDS)
    finally:
        process.kill()
    return process.returncode, stderr


def test_the_tls_front_exits_143_on_sigterm(tmp_path: Path) -> None:
    test_pg_front.write_material(tmp_path, test_pg_front.make_agent())
    port = processes.free_port()
    front = subprocess.Popen(
        [sys.executable, "-m", "ragagent.core.pg_front", "--host", "127.0.0.1",
         "--port", str(port), "--socket", str(tmp_path / "no-server"),
         "--cert", str(tmp_path / postgres_tls.KEY_TLS_CERT),
         "--key", str(tmp_path / postgres_tls.KEY_TLS_KEY)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_port(port, front)

    code, stderr = terminate(front)

    assert code == signals.EXIT_CODE == 143, stderr
    assert "Traceback" not in stderr


def test_a_cli_command_waiting_on_its_database_exits_143_on_sigterm(tmp_path: Path) -> None:
    """``ragagent migrate`` (a Job's command) blocked in its connect to a database that
    accepted the connection and never answers, as a stalled server would."""
    with socket.create_server(("127.0.0.1", 0)) as stalled:
        port = stalled.getsockname()[1]
        url = f"postgresql://ragagent:secret@127.0.0.1:{port}/ragagent"
        command = subprocess.Popen(
            [str(Path(sys.executable).with_name("ragagent")), "migrate"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RAGAGENT_DATABASE_URL": url},
        )  # fmt: skip
        stalled.settimeout(EXIT_BOUND_SECONDS)
        connection, _ = stalled.accept()  # the command is now inside its connect
        with connection:
            code, stderr = terminate(command)

    assert code == 143, stderr
    assert "secret" not in stderr
