"""Which tests must share one pytest-xdist worker (``make test`` runs ``-n N``; pyproject's
addopts pick ``--dist loadgroup``, which this plugin's scheduler implements).

Each worker runs a session of its own: its own control plane, embedded PostgreSQL, operator
and fake servers, on free ports and in its own temporary directory, so most tests may run on
any worker. Two kinds hold something the host has only one of, and each kind is a group that
goes whole to a single worker, which runs it in collection order:

- ``real-node``: the real kubelet node (markers ``node`` and ``e2e``). One node runs per host
  (``node_network.LOCK_PATH``): a second worker's node would wait for the first worker's
  whole session to end, and the tests that stop and kill nodes would see another's.
- ``podman``: the container tests (marker ``containers``). Their pods share the host's
  network (``--network=host``), so two workers' managed databases would both want port 5432,
  and their containers are named after the rendered pods.

The group is read from the test's directory, not from an ``xdist_group`` mark: xdist 3.8
carries a mark to its scheduler by rewriting ``item._nodeid``, which pytest 9.2 no longer
reads, so marked tests scattered. The scheduler sees only node ids, hence directories; a
marked test outside its group's directory errs at its setup, so none can scatter unseen.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest
from xdist.scheduler import LoadGroupScheduling


class Group(NamedTuple):
    name: str
    directories: tuple[str, ...]  # node id prefixes, relative to the rootdir
    markers: tuple[str, ...]  # a test with one of these must be in one of the directories


GROUPS = (
    Group("real-node", ("tests/node/", "tests/e2e/"), ("node", "e2e")),
    Group("podman", ("tests/containers/",), ("containers",)),
)


def group_of(nodeid: str) -> str | None:
    """The group of the test ``nodeid``; None when it may run on any worker."""
    for group in GROUPS:
        if nodeid.startswith(group.directories):
            return group.name
    return None


def misplaced(item: pytest.Item) -> str | None:
    """Why ``item`` would escape its group (a group's marker outside its directories)."""
    for group in GROUPS:
        marked = any(item.get_closest_marker(marker) for marker in group.markers)
        if marked and group_of(item.nodeid) != group.name:
            return f"{item.nodeid}: marked {'/'.join(group.markers)}, so it belongs under " + (
                " or ".join(group.directories)
            )
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    # A failed setup, not a collection error: xdist turns a worker's UsageError into an
    # INTERNALERROR that names no test.
    problem = misplaced(item)
    if problem:
        pytest.fail(problem, pytrace=False)


# LoadGroupScheduling has no type information (xdist ships none).
class DirectoryGroupScheduling(LoadGroupScheduling):  # type: ignore[misc]
    """xdist's loadgroup scheduling with groups from ``group_of``; every other test is a
    unit of its own. Units go out largest first, so the groups start at once."""

    def _split_scope(self, nodeid: str) -> str:
        group = group_of(nodeid)
        return f"@{group}" if group else nodeid


# optionalhook: the hook is xdist's, and pytest -p no:xdist must still load this plugin.
@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    if config.getvalue("dist") != "loadgroup":
        return None  # xdist's own scheduler
    return DirectoryGroupScheduling(config, log)
