"""Managed PostgreSQL + pgvector: one StatefulSet with a data PVC, and its Service."""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import common, postgres_front, secrets

DB_USER = "ragagent"  # the application role: not a superuser, owns the database
DB_SUPERUSER = "postgres"  # creates the role, the database and the vector extension once
DB_NAME = "ragagent"
POSTGRES_UID = 999  # the postgres user of the official images
# Both the official image and images/postgres run the executable scripts here once, as the
# superuser over the local socket, after creating POSTGRES_USER and POSTGRES_DB.
INIT_DIR = "/docker-entrypoint-initdb.d"
APP_ROLE_SCRIPT_KEY = "10-app-role.sh"
# The application role owns its database, so the public schema (pg_database_owner's) and
# every table the migrations create; the superuser creates the vector extension once, so
# the migrations' CREATE EXTENSION IF NOT EXISTS is a no-op for a role that could not.
# The password comes from the environment (\getenv), never an argument; terse errors and
# no statement logging keep it out of the output if the statement fails.
APP_ROLE_SCRIPT = """#!/bin/sh
set -eu
exec psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" \\
  --dbname "$POSTGRES_DB" <<'SQL'
\\set VERBOSITY terse
SET log_min_error_statement = panic;
\\getenv app POSTGRES_APP_USER
\\getenv password POSTGRES_APP_PASSWORD
\\getenv db POSTGRES_DB
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'password';
ALTER DATABASE :"db" OWNER TO :"app";
CREATE EXTENSION IF NOT EXISTS vector;
SQL
"""

# Databases made before the application role existed were initialised with POSTGRES_USER
# ragagent, so the agent's role is the bootstrap superuser, which PostgreSQL never lets lose
# SUPERUSER. images/postgres runs this on every start of an existing cluster (and it runs
# once after the script above on a new one, where it finds nothing to do): a helper
# superuser renames the bootstrap role to the superuser's name (POSTGRES_USER) and gives it
# the superuser password, a new non-superuser application role takes the old name and the
# agent's password (the URL in the Secret keeps working), and the database and every object
# the migrations made in it pass to that role; the vector extension stays the superuser's.
UPGRADE_SCRIPT_KEY = "20-app-role-upgrade.sh"
UPGRADE_SCRIPT = """#!/bin/bash
set -euo pipefail
app=$POSTGRES_APP_USER
# sql USER: runs stdin as USER through psql's own parser, so :"name" variables expand.
sql() {
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --tuples-only --no-align --username "$1" \\
    --dbname "$POSTGRES_DB" -v app="$app" -v super="$POSTGRES_USER" -v helper="${app}_upgrade"
}
state=$(sql "$app" <<'SQL'
SELECT CASE WHEN NOT rolsuper THEN 'done'
            WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'super') THEN 'both'
            ELSE 'upgrade' END
  FROM pg_roles WHERE rolname = current_user;
SQL
)
case "$state" in
  done) exit 0 ;;
  both) echo "$app is a superuser next to $POSTGRES_USER: left as it is" >&2; exit 1 ;;
esac
echo "making $app a non-superuser application role (it was the bootstrap superuser)" >&2
sql "$app" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN SUPERUSER', :'helper')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'helper')
\\gexec
SQL
sql "${app}_upgrade" <<'SQL'
\\set VERBOSITY terse
SET log_min_error_statement = panic;
\\getenv superpassword POSTGRES_PASSWORD
\\getenv password POSTGRES_APP_PASSWORD
\\getenv db POSTGRES_DB
BEGIN;
ALTER ROLE :"app" RENAME TO :"super";
\\if :{?superpassword}
ALTER ROLE :"super" PASSWORD :'superpassword';
\\endif
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'password';
ALTER DATABASE :"db" OWNER TO :"app";
-- Tables, views and free-standing sequences (a column's sequence follows its table).
SELECT format('ALTER %s %s OWNER TO %I',
              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                             WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
              c.oid::regclass, :'app')
  FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
   AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = :'super')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                     AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
\\gexec
-- The migrations' functions; the extension's stay with it.
SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, :'app')
  FROM pg_proc p
 WHERE p.pronamespace = 'public'::regnamespace
   AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = :'super')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                     AND d.objid = p.oid AND d.deptype = 'e')
\\gexec
COMMIT;
SQL
sql "$POSTGRES_USER" <<<'DROP ROLE :"helper";'
"""


def postgres_name(agent: common.Agent) -> str:
    return common.name_of(agent, "postgres")


def build_database_url(agent: common.Agent, password: str) -> str:
    """The URL the agent uses for the managed database (stored only in a Secret)."""
    host = f"{postgres_name(agent)}.{agent.namespace}.svc"
    return f"postgresql://{DB_USER}:{password}@{host}:{c.POSTGRES_PORT}/{DB_NAME}"


def init_config_map_name(agent: common.Agent) -> str:
    return common.name_of(agent, "postgres-init")


def build_postgres_init_config_map(agent: common.Agent) -> common.Manifest:
    """The first-start script that creates the application role, and the every-start one
    that turns an older database's superuser application role into a plain one (no secret
    inside either)."""
    meta = common.metadata(agent, init_config_map_name(agent), c.COMPONENT_DATABASE)
    data = {APP_ROLE_SCRIPT_KEY: APP_ROLE_SCRIPT, UPGRADE_SCRIPT_KEY: UPGRADE_SCRIPT,
            postgres_front.HBA_KEY: postgres_front.HBA_CONF}  # fmt: skip
    return common.child("v1", "ConfigMap", meta, data=data)


def build_postgres_service(agent: common.Agent) -> common.Manifest:
    """Headless: the StatefulSet's single pod gets a stable DNS name."""
    spec = {
        "clusterIP": "None",
        "selector": common.selector_labels(agent, c.COMPONENT_DATABASE),
        "ports": [{"name": "postgres", "port": c.POSTGRES_PORT, "protocol": "TCP"}],
    }
    return common.child("v1", "Service", _metadata(agent), spec=spec)


def build_postgres_statefulset(agent: common.Agent) -> common.Manifest:
    managed = agent.spec.database.managed
    assert managed is not None, "only rendered for database.managed"
    claim: dict[str, Any] = {
        "metadata": {"name": "data", "labels": common.labels(agent, c.COMPONENT_DATABASE)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": managed.storage}},
        },
    }
    if managed.storage_class_name:
        claim["spec"]["storageClassName"] = managed.storage_class_name
    spec = {
        "replicas": 1,
        "serviceName": postgres_name(agent),
        "selector": common.match_labels(agent, c.COMPONENT_DATABASE),
        "template": {
            "metadata": {"labels": common.labels(agent, c.COMPONENT_DATABASE)},
            "spec": _pod_spec(agent, managed.image),
        },
        "volumeClaimTemplates": [claim],
        # The claim goes with the RagAgent, as every other child does. Left behind, it would
        # outlive the generated passwords (deleted with their SealedSecret), so a RagAgent
        # made again under the same name would start on data it cannot log in to.
        # Scaling never deletes it.
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
    }
    return common.child("apps/v1", "StatefulSet", _metadata(agent), spec=spec)


def _metadata(agent: common.Agent) -> dict[str, Any]:
    return common.metadata(agent, postgres_name(agent), c.COMPONENT_DATABASE)


def _pod_spec(agent: common.Agent, image: str) -> dict[str, Any]:
    """PostgreSQL writes only to its volume, the socket dir and /tmp: root FS stays read-only.
    It listens on its socket only; the TLS front (postgres_front) owns the port."""
    generated = secrets.generated_secret_name(agent)
    superuser_password = common.secret_env(
        "POSTGRES_PASSWORD", generated, c.KEY_DB_SUPERUSER_PASSWORD
    )
    app_password = common.secret_env("POSTGRES_APP_PASSWORD", generated, c.KEY_DB_PASSWORD)
    container = {
        "name": "postgres",
        "image": image,
        "args": postgres_front.SERVER_ARGS,
        "env": [
            {"name": "POSTGRES_USER", "value": DB_SUPERUSER},
            {"name": "POSTGRES_APP_USER", "value": DB_USER},
            {"name": "POSTGRES_DB", "value": DB_NAME},
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
            superuser_password,
            app_password,
        ],
        "securityContext": common.restricted_container_security(),
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
        "readinessProbe": _pg_isready(period=5),
        "livenessProbe": _pg_isready(period=20),
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/postgresql/data"},
            {"name": "run", "mountPath": "/var/run/postgresql"},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108
            {"name": "init", "mountPath": INIT_DIR, "readOnly": True},
            postgres_front.build_hba_mount(),
        ],
    }
    scripts = [{"key": key, "path": key} for key in (APP_ROLE_SCRIPT_KEY, UPGRADE_SCRIPT_KEY)]
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": common.restricted_pod_security(POSTGRES_UID),
        "containers": [container, postgres_front.build_front_container(agent)],
        "volumes": [
            {"name": "run", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {}},
            {
                "name": "init",
                "configMap": {
                    "name": init_config_map_name(agent),
                    "items": scripts,
                    "defaultMode": 0o555,
                },
            },
            *postgres_front.build_volumes(agent, init_config_map_name(agent)),
        ],
        **common.build_node_placement(agent),
    }


def _pg_isready(*, period: int) -> dict[str, Any]:
    return {
        "exec": {"command": ["pg_isready", "-U", DB_USER, "-d", DB_NAME]},
        "periodSeconds": period,
        "timeoutSeconds": 5,
    }
