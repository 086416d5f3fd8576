"""hack/build-images' pruning of old image archives, run by bash on real files.

Several checkouts build images into one cache (engineers, CI clones). An archive that
another checkout's test run still imports must survive a newer build elsewhere, or that
run fails with "image not known" or a failed ``ctr images import``.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.support.images import BUILD_SCRIPT

HOUR = 3600.0


def prune(out: Path, keep_archive: Path) -> None:
    # The name is one no podman image carries, so only the archive half acts here.
    script = f'source "{BUILD_SCRIPT}"; OUT="{out}"; prune_older test-prune "" "{keep_archive}"'
    subprocess.run(["bash", "-c", script], check=True, timeout=60)


def archive(out: Path, key: str, age_hours: float) -> Path:
    path = out / f"ragagent-test-prune-{key}.tar"
    path.write_bytes(b"archive")
    stamp = time.time() - age_hours * HOUR
    os.utime(path, (stamp, stamp))
    return path


def test_archives_used_recently_by_any_checkout_survive_newer_builds(tmp_path: Path) -> None:
    current = archive(tmp_path, "current", 0)
    newest = [archive(tmp_path, f"new{n}", 0.1 * n) for n in (1, 2)]
    # Built by a CI clone 40 minutes ago: three newer builds since, and its run still going.
    in_use = archive(tmp_path, "ci-clone", 0.7)
    stale = [archive(tmp_path, f"old{n}", 5 + n) for n in (1, 2)]

    prune(tmp_path, current)

    assert all(path.exists() for path in [current, *newest, in_use])
    assert not any(path.exists() for path in stale)


def test_sourcing_the_script_builds_nothing(tmp_path: Path) -> None:
    done = subprocess.run(["bash", "-c", f'source "{BUILD_SCRIPT}"; declare -F prune_older'],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert done.stdout.strip() == "prune_older"
    assert done.stderr == ""
