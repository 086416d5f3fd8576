"""The worker groups: under ``-n`` every test of a group runs on one worker, in order, and a
marked test outside its group's directory errs at its setup instead of scattering.

The proofs run a small generated suite laid out like tests/ in a child pytest with three
workers, as ``make test`` runs the real one, and read which worker ran each test from the
lines the tests append to a file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import xdist_groups

REPO = Path(__file__).resolve().parents[2]

INI = """[pytest]
addopts = -p xdist -p tests.support.xdist_groups --dist loadgroup
markers =
    node: real node
    e2e: journey
    containers: podman
"""

MODULE = """import os
import pytest
{mark}

@pytest.mark.parametrize("n", range({count}))
def test_{name}(n):
    with open({ran!r}, "a") as out:
        out.write(f"{{os.environ['PYTEST_XDIST_WORKER']}} {name}-{{n}}\\n")
"""

# The group's modules sort apart, between ungrouped ones, as in the real suite.
SUITE = {
    "tests/agent/test_a": ("", 12),
    "tests/e2e/test_b": ("pytestmark = pytest.mark.e2e", 3),
    "tests/contract/test_c": ("", 12),
    "tests/node/test_d": ("pytestmark = pytest.mark.node", 3),
    "tests/containers/test_e": ("pytestmark = pytest.mark.containers", 4),
}


def write_suite(root: Path, suite: dict[str, tuple[str, int]]) -> Path:
    ran = root / "ran.txt"
    (root / "pytest.ini").write_text(INI)
    for path, (mark, count) in suite.items():
        module = root / f"{path}.py"
        module.parent.mkdir(parents=True, exist_ok=True)
        name = module.stem
        module.write_text(MODULE.format(mark=mark, count=count, name=name, ran=str(ran)))
    return ran


def run_suite(root: Path) -> subprocess.CompletedProcess[str]:
    # Only xdist and the plugin: the installed plugins would triple each worker's start-up.
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    argv = [sys.executable, "-m", "pytest", "-n", "3", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*argv, f"--basetemp={root / 'tmp'}", "tests"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def ran_by_worker(ran: Path) -> list[tuple[str, str]]:
    """(worker, test) in the order the tests ran."""
    return [(line.split()[0], line.split()[1]) for line in ran.read_text().splitlines()]


def test_each_groups_tests_run_on_one_worker_in_collection_order(tmp_path: Path) -> None:
    ran = write_suite(tmp_path, SUITE)
    done = run_suite(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = ran_by_worker(ran)
    assert len(runs) == 34
    real_node = [(worker, test) for worker, test in runs if test.startswith(("test_b", "test_d"))]
    assert len({worker for worker, _ in real_node}) == 1
    assert [test for _, test in real_node] == [f"test_{m}-{n}" for m in "bd" for n in range(3)]
    assert len({worker for worker, test in runs if test.startswith("test_e")}) == 1
    assert len({worker for worker, _ in runs}) == 3  # the rest spread over every worker


def test_a_marked_test_outside_its_groups_directory_errs_before_it_runs(tmp_path: Path) -> None:
    ran = write_suite(
        tmp_path, {**SUITE, "tests/agent/test_f": ("pytestmark = pytest.mark.node", 1)}
    )
    done = run_suite(tmp_path)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "34 passed, 1 error" in done.stdout  # the error at its setup
    assert "tests/agent/test_f.py::test_test_f[0]: marked node/e2e" in done.stdout
    assert "test_f-0" not in ran.read_text()


def test_groups_come_from_the_directory() -> None:
    assert xdist_groups.group_of("tests/e2e/test_e2e_journey.py::test_x") == "real-node"
    assert xdist_groups.group_of("tests/node/test_teardown.py::test_x[a]") == "real-node"
    assert xdist_groups.group_of("tests/containers/test_podrun_env.py::test_x") == "podman"
    assert xdist_groups.group_of("tests/cluster/test_helm.py::test_node") is None
