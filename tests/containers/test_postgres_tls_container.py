"""The managed database pod as rendered (server on its socket, TLS front on the port), with
the real images: TLS is the only way in, verified against the operator's CA, and the agent's
own pod connects with sslmode=verify-full through it.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from ragagent.core import signals
from ragagent_operator import constants as c
from ragagent_operator.render import deployment, postgres
from tests.containers import stack as stacks
from tests.support.podrun import runner

pytestmark = pytest.mark.containers
IN_POD_CHECK = (
    "import os, psycopg; url = os.environ['RAGAGENT_DATABASE_URL']; "
    "conn = psycopg.connect(url); "
    "print(conn.info.pgconn.ssl_in_use, conn.info.get_parameters()['sslmode'], "
    "conn.execute('SELECT current_user').fetchone()[0])"
)


@pytest.fixture(scope="module")
def agent_pod(stack: stacks.Stack, database: runner.Container) -> Iterator[runner.Container]:
    manifest = deployment.build_deployment(stack.agent, config_hash="c", secrets_hash="s")
    with runner.running(stack.plan(manifest), timeout=180) as container:
        yield container


def test_the_host_reaches_the_database_over_tls_verified_against_the_operators_ca(
    database: runner.Container, stack: stacks.Stack
) -> None:
    with psycopg.connect(stack.host_db_url()) as conn:
        assert conn.info.pgconn.ssl_in_use
        assert conn.execute("SELECT current_user").fetchone() == (postgres.DB_USER,)


def test_a_plaintext_connection_to_the_database_port_is_refused(
    database: runner.Container, stack: stacks.Stack
) -> None:
    url = f"postgresql://{postgres.DB_USER}:{stack.password}@127.0.0.1:{c.POSTGRES_PORT}/"
    with pytest.raises(psycopg.OperationalError, match="accepts only TLS"):
        psycopg.connect(url + f"{postgres.DB_NAME}?sslmode=disable")


def test_the_superuser_cannot_log_in_from_the_network_even_with_its_password(
    database: runner.Container, stack: stacks.Stack
) -> None:
    password = stacks.secrets_value(stack.generated, c.KEY_DB_SUPERUSER_PASSWORD)
    url = stack.host_db_url(user=postgres.DB_SUPERUSER, password=password)
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(url)


def test_the_agent_pod_connects_with_verify_full_and_the_mounted_ca(
    agent_pod: runner.Container,
) -> None:
    checked = agent_pod.exec("python", "-c", IN_POD_CHECK)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.split() == ["True", "verify-full", postgres.DB_USER]


def test_the_tls_front_ends_on_sigterm_and_serves_again_once_restarted(
    database_pod: list[runner.Container], stack: stacks.Stack
) -> None:
    """The front is its container's PID 1: without its own SIGTERM handler the stop waited
    out the pod's 30 s grace and ended in SIGKILL (137), holding a deleted database pod in
    Terminating. Restarted as the kubelet restarts a container, it serves again while the
    server kept running."""
    front = database_pod[1]
    assert front.plan.name.endswith("-tls"), front.plan.name

    assert runner.stop(front) == signals.EXIT_CODE

    runner.start(front.plan)
    runner.wait_ready(front, timeout=60)
    with psycopg.connect(stack.host_db_url()) as conn:
        assert conn.info.pgconn.ssl_in_use
