"""The real node's add-ons: dynamic local volumes (``node_storage``) and resource metrics
(``node_metrics``). ``RealNode`` starts them once its kubelet is Ready and stops them after
its pods are gone; both run as host processes whose command lines name the node's work
directory, so the node's clean-up finds them even after its runner was SIGKILLed."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support import node_config, node_metrics, node_storage, processes

if TYPE_CHECKING:
    from tests.support import node

TOOLS = (node_storage.PROVISIONER, node_metrics.METRICS_SERVER)
NAMES = TOOLS
START_TIMEOUT = 60.0


def start(real: node.RealNode) -> list[processes.Component]:
    """Starts both add-ons and returns their components (the caller stops them). Raises if
    one dies or metrics-server does not answer in time."""
    cluster, layout, network = real.cluster, real.layout, real.network
    node_storage.ensure_storage(cluster, layout, network, helper_image=real.sandbox_image)
    started = [node_storage.start_provisioner(cluster, layout, network)]
    with processes.undone_on_failure(lambda: processes.stop_all(started)):
        metrics, port = node_metrics.start_metrics_server(cluster, layout, network)
        started.append(metrics)
        processes.wait_until(
            "metrics-server /livez",
            lambda: node_metrics.is_live(cluster, network.node_ip, port),
            timeout=START_TIMEOUT,
            watch=started,
        )
        node_metrics.ensure_registration(cluster, network, port=port)
    return started


def stop(real: node.RealNode) -> None:
    """Removes the cluster objects of the add-ons. Best effort; the node stops the
    processes (``NAMES``) itself."""
    node_metrics.delete_registration(real.cluster, real.network)
    node_storage.delete_storage(real.cluster, real.network)


def leftovers(workdir: Path) -> list[str]:
    """The add-ons' traces of the node whose state is in ``workdir``: their processes and
    the volume directories. Empty when clean; ``node_host.leftovers`` covers the rest (the
    volumes' mounts and the work directory)."""
    found = [f"{name} process {pid}" for name in NAMES for pid in _pids(workdir, name)]
    volumes = node_storage.volumes_dir(node_config.Layout.under(workdir))
    found += [f"volume {p}" for p in sorted(volumes.glob("*"))] if volumes.is_dir() else []
    return found


def _pids(workdir: Path, name: str) -> list[int]:
    """Processes running the program ``name`` with ``workdir`` on their command line."""
    pids = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if Path(argv[0].decode()).name == name and str(workdir).encode() in b" ".join(argv):
                pids.append(int(proc.name))
    return pids
