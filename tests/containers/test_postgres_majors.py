"""The PostgreSQL majors we ship agree (issue 12, defect 8).

``pg_dump`` reads servers up to its own major only, and ``pg_restore`` of a newer dump
into an older server can fail on settings the older one lacks. So the backup tools in the
agent image, the managed database image the operator renders by default, and the local
PostgreSQL image the container and node tests run must be one major. The backup and
restore container tests then prove a dump and a restore across exactly these images.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from ragagent_operator.spec import ManagedDatabase
from tests.support import images as built_images

pytestmark = pytest.mark.containers

# The agent image's own lookup of its pg_dump (the one `ragagent backup` runs).
PG_DUMP_VERSION = (
    "import subprocess; from ragagent.backup import pg; "
    "print(subprocess.run([str(pg.tool_path(pg.find_pg_bin(), 'pg_dump')), '--version'], "
    "capture_output=True, text=True, check=True).stdout)"
)


def major_of(version_output: str) -> int:
    """The major of ``pg_dump (PostgreSQL) 18.4``-style output."""
    found = re.search(r"\(PostgreSQL\) (\d+)", version_output)
    assert found is not None, version_output
    return int(found.group(1))


def run_in(image: str, *command: str) -> str:
    args = ["run", "--rm", "--read-only", "--tmpfs", "/tmp", "--entrypoint", command[0]]
    done = subprocess.run(
        built_images.podman_command(*args, image, *command[1:]),
        env=built_images.podman_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def default_managed_major() -> int:
    """The major in the default managed image's tag (``pgvector/pgvector:pg18``)."""
    image = ManagedDatabase.model_fields["image"].default
    found = re.fullmatch(r"pgvector/pgvector:pg(\d+)", image)
    assert found is not None, f"the default managed image {image!r} names no major"
    return int(found.group(1))


def test_backup_tools_managed_database_and_local_image_share_one_major() -> None:
    images = built_images.require_images()
    tools = major_of(run_in(images.agent, "python", "-c", PG_DUMP_VERSION))
    server = major_of(run_in(images.postgres, "postgres", "--version"))
    assert {"agent pg_dump": tools, "postgres image": server} == {
        "agent pg_dump": default_managed_major(),
        "postgres image": default_managed_major(),
    }
