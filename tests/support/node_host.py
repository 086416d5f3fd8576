"""Host state a real node creates, and its removal: the pod bridge, mounts under the node's
work directory, kubepods cgroups, the CNI and kubelet iptables rules, containerd's shims and
the container processes. ``clean_host`` is safe to run after a normal stop and after the
runner was SIGKILLed; ``leftovers`` lists whatever is still there (empty when clean).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from tests.support import node_config

CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBEPODS = "kubepods"
# Chains the kubelet makes to notice a flush of the tables; nothing else on the host uses them.
KUBELET_CHAINS = ("KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT", "KUBE-FIREWALL")
IPTABLES_TABLES = ("nat", "filter", "mangle")
SHIM_SOCKET_DIR = Path("/run/containerd/s")
# The kubelet links every container's log here, whatever its podLogsDir.
CONTAINER_LOG_LINKS = Path("/var/log/containers")
MNT_DETACH = 2
KILL_WAIT_SECONDS = 10.0


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)


# --- the pod network --------------------------------------------------------------------


def free_network_index() -> int:
    """The first 10.222.<n>.0/24 whose bridge does not exist and which no route uses."""
    routes = _run("ip", "-4", "route", "show").stdout
    links = _run("ip", "-o", "link", "show").stdout
    for index in range(256):
        network = node_config.Network(index)
        prefix = f"{node_config.POD_NETWORK_PREFIX}.{index}."
        if prefix not in routes and f" {network.bridge}:" not in links:
            return index
    raise RuntimeError("no free 10.222.<n>.0/24 pod network on this host")


def create_bridge(network: node_config.Network) -> None:
    """The bridge with the node IP, made before the kubelet starts so it can listen there.
    The CNI bridge plugin adopts it (its gateway address is already in place)."""
    name = network.bridge
    for argv in (
        ("ip", "link", "add", "name", name, "type", "bridge"),
        ("ip", "addr", "add", f"{network.node_ip}/{network.subnet.prefixlen}", "dev", name),
        ("ip", "link", "set", name, "up"),
    ):
        subprocess.run(argv, check=True, capture_output=True, timeout=30)


def bridge_exists(network: node_config.Network) -> bool:
    return _run("ip", "link", "show", network.bridge).returncode == 0


# --- processes, mounts and cgroups ------------------------------------------------------


def _pids_mentioning(workdir: Path) -> list[int]:
    """Processes whose command line names ``workdir``: containerd, its shims, the kubelet."""
    needle = str(workdir).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid() and _is_running(int(proc.name)):
            with contextlib.suppress(OSError):
                if needle in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
    return pids


def _controllers() -> list[Path]:
    """Every cgroup hierarchy: the v1 controllers and the unified (v2) one."""
    return [c for c in CGROUP_ROOT.iterdir() if c.is_dir() and not c.is_symlink()]


def create_cgroup_root(network: node_config.Network) -> None:
    """The kubelet refuses a cgroup root that does not exist in every hierarchy."""
    for controller in _controllers():
        (controller / network.cgroup_root.lstrip("/")).mkdir(exist_ok=True)


def node_cgroups(network: node_config.Network) -> list[Path]:
    """The node's cgroup root and everything below it (kubepods), in every hierarchy,
    deepest first."""
    roots = [p for c in _controllers() if (p := c / network.cgroup_root.lstrip("/")).is_dir()]
    nested = [d for top in roots for d in top.rglob("*") if d.is_dir()]
    return sorted([*roots, *nested], key=lambda p: len(p.parts), reverse=True)


def _kill_pids(pids: list[int]) -> None:
    """SIGKILL, then waits (up to KILL_WAIT_SECONDS) until each is gone or a zombie."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while any(_is_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def _is_running(pid: int) -> bool:
    """True unless the process is gone or a zombie (which a non-reaping init may keep)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cgroup_pids(cgroups: list[Path]) -> list[int]:
    pids: set[int] = set()
    for cgroup in cgroups:
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in (cgroup / "cgroup.procs").read_text().split())
    return sorted(pids)


def kill_node_processes(workdir: Path, network: node_config.Network) -> None:
    """SIGKILL to every container process (anything in a kubepods cgroup) and every program
    started for the node (shims escape our process groups, as they must)."""
    _kill_pids(_pids_mentioning(workdir))
    _kill_pids(_cgroup_pids(node_cgroups(network)))


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below ``directory``, deepest first."""
    prefix = str(directory)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(Path(point))
    return sorted(set(points), key=lambda p: len(p.parts), reverse=True)


def unmount_all(directory: Path) -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    for _ in range(3):  # a bind mount can hide another one below it
        for point in mounts_under(directory):
            libc.umount2(str(point).encode(), MNT_DETACH)


def remove_cgroups(network: node_config.Network) -> None:
    for cgroup in node_cgroups(network):
        with contextlib.suppress(OSError):
            cgroup.rmdir()


# --- iptables ---------------------------------------------------------------------------


def _rules(family: str, table: str) -> list[str]:
    return _run(family, "-t", table, "-S").stdout.splitlines()


def _our_rules(network: node_config.Network, family: str, table: str) -> list[str]:
    """Rules the CNI plugins tagged with our network's name, and the kubelet's own chains
    when no other kubelet runs (they are per host, not per kubelet)."""
    tag = f'name: \\"{network.cni_name}\\"'
    chains = () if _pids_named("kubelet") else KUBELET_CHAINS
    return [
        rule
        for rule in _rules(family, table)
        if (rule.startswith("-A ") and tag in rule)
        or any(f" {chain}" in rule or rule.endswith(chain) for chain in chains)
    ]


def _delete_rules(network: node_config.Network, family: str, table: str) -> None:
    rules = _our_rules(network, family, table)
    chains = {r.split()[1] for r in rules if r.startswith("-N ")}
    chains |= {w for r in rules for w in r.split() if w.startswith("CNI-") and "HOSTPORT" not in w}
    for rule in rules:
        if rule.startswith("-A "):
            _run(family, "-t", table, "-D", *shlex.split(rule[3:]))
    for chain in sorted(chains):
        _run(family, "-t", table, "-F", chain)
        _run(family, "-t", table, "-X", chain)


def remove_iptables_rules(network: node_config.Network) -> None:
    for family in ("iptables", "ip6tables"):
        for table in IPTABLES_TABLES:
            _delete_rules(network, family, table)


# --- all together -----------------------------------------------------------------------


def clean_host(workdir: Path, network: node_config.Network) -> None:
    """Removes every trace of the node whose state is in ``workdir``. Idempotent."""
    kill_node_processes(workdir, network)
    unmount_all(workdir)
    remove_cgroups(network)
    _run("ip", "link", "delete", network.bridge)
    remove_iptables_rules(network)
    for link in log_links(workdir):
        link.unlink(missing_ok=True)
    _remove_dead_shim_sockets()


def log_links(workdir: Path) -> list[Path]:
    """The kubelet's /var/log/containers links into ``workdir``."""
    links = CONTAINER_LOG_LINKS.glob("*.log") if CONTAINER_LOG_LINKS.is_dir() else []
    return [p for p in links if p.is_symlink() and str(p.readlink()).startswith(str(workdir))]


def _remove_dead_shim_sockets() -> None:
    """containerd puts shim sockets in /run/containerd/s whatever its state dir; with no
    containerd left running, none is live."""
    if _pids_named("containerd"):
        return
    for sock in SHIM_SOCKET_DIR.glob("*") if SHIM_SOCKET_DIR.is_dir() else []:
        with contextlib.suppress(OSError):
            sock.unlink()
    for directory in (SHIM_SOCKET_DIR, SHIM_SOCKET_DIR.parent):
        with contextlib.suppress(OSError):
            directory.rmdir()


def _pids_named(name: str) -> list[int]:
    """Running (not zombie) processes called ``name``."""
    return [p for p in map(int, _run("pgrep", "-x", name).stdout.split()) if _is_running(p)]


def leftovers(workdir: Path, network: node_config.Network) -> list[str]:
    """What the node left on the host; an empty list means clean."""
    found = [f"process {pid}" for pid in _pids_mentioning(workdir)]
    found += [f"mount {p}" for p in mounts_under(workdir)]
    found += [f"cgroup {p}" for p in node_cgroups(network)]
    found += [f"bridge {network.bridge}"] if bridge_exists(network) else []
    found += [
        f"{family} -t {table} {rule}"
        for family in ("iptables", "ip6tables")
        for table in IPTABLES_TABLES
        for rule in _our_rules(network, family, table)
    ]
    found += [f"log link {p}" for p in log_links(workdir)]
    found += [f"directory {workdir}"] if workdir.exists() else []
    return found
