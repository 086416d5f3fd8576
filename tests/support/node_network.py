"""Services and NetworkPolicies on the real node: kube-proxy (nftables mode) and kube-router's
network-policy controller, host processes of the node runner like its kubelet.

Both program host-wide state. kube-proxy owns the nftables tables ``ip kube-proxy`` and
``ip6 kube-proxy`` (the name is a constant in kube-proxy, not an option); kube-router owns
the KUBE-ROUTER-*, KUBE-POD-FW-* and KUBE-NWPLCY-* chains of iptables' filter table and the
KUBE-SRC-* and KUBE-DST-* ipsets. Two of either on one host overwrite each other, and every
test control plane uses Service range 10.0.0.0/24, so one node per host runs them: the one
holding an exclusive flock on ``LOCK_PATH``. Another node waits for it (up to
``LOCK_WAIT_SECONDS``), then fails naming the holder; a second node in the same process fails
at once, as waiting for itself would never end. The kernel drops the lock when its holder
dies, even by SIGKILL, so whoever takes it next (or ``clean_unowned``) first removes what a
dead holder left: every rule here belongs to the lock holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import controlplane, kubeconfig, node_config, processes
from tests.support import node_network_config as netconfig

LOCK_PATH = Path("/run/lock/ragagent-node-network.lock")
LOCK_WAIT_SECONDS = float(os.environ.get("RAGAGENT_NODE_NETWORK_WAIT", "300"))
START_TIMEOUT = 120.0
TOOLS = ("kube-proxy", "kube-router")
NFT_TABLE = "kube-proxy"
NFT_FAMILIES = ("ip", "ip6")
CHAIN_PREFIXES = ("KUBE-ROUTER-", "KUBE-POD-FW-", "KUBE-NWPLCY-")
IPSET_PREFIXES = ("KUBE-SRC-", "KUBE-DST-", "inet6:KUBE-SRC-", "inet6:KUBE-DST-")
IPTABLES = ("iptables", "ip6tables")


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)


# --- the host lock ----------------------------------------------------------------------


class HostLockBusyError(RuntimeError):
    """Another node runs the host's Service proxy and policy engine."""


_held_by: str | None = None  # the node of this process holding the lock


class HostLock:
    """The exclusive flock on LOCK_PATH; its file names the holder's pid and node."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._file: int | None = None

    def acquire(self, *, timeout: float = LOCK_WAIT_SECONDS) -> None:
        global _held_by
        if _held_by is not None:
            raise HostLockBusyError(
                f"node {_held_by} of this process already runs kube-proxy and kube-router; "
                f"only one node per host can: stop it, or start {self.owner} without them"
            )
        fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + timeout
        while not _try_flock(fd):
            if time.monotonic() > deadline:
                os.close(fd)
                raise HostLockBusyError(
                    f"waited {timeout:.0f}s for {LOCK_PATH}, held by {holder()}: only one "
                    "real node per host runs kube-proxy and kube-router; stop that one"
                )
            time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} node {self.owner}\n".encode())
        self._file, _held_by = fd, self.owner

    def release(self) -> None:
        global _held_by
        if self._file is not None:
            os.close(self._file)  # closing drops the flock
            self._file, _held_by = None, None


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def holder() -> str:
    """What the lock file says about its last holder."""
    with contextlib.suppress(OSError):
        return LOCK_PATH.read_text().strip() or "nobody"
    return "nobody"


def clean_unowned() -> bool:
    """Removes the proxy's and policy engine's rules if no live node holds the lock (its
    holder was killed); True when it did."""
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if _held_by is not None or not _try_flock(fd):
            return False
        remove_rules()
        return True
    finally:
        os.close(fd)


# --- host rules -------------------------------------------------------------------------


def _our_chains(family: str) -> list[str]:
    rules = _run(family, "-t", "filter", "-S").stdout.splitlines()
    return [
        r.split()[1]
        for r in rules
        if r.startswith("-N ") and r.split()[1].startswith(CHAIN_PREFIXES)
    ]


def _jumps_to_our_chains(family: str) -> list[str]:
    """Rules of other chains (INPUT, FORWARD, OUTPUT) that jump into kube-router's."""
    rules = _run(family, "-t", "filter", "-S").stdout.splitlines()
    return [
        r for r in rules
        if r.startswith("-A ") and not r.split()[1].startswith(CHAIN_PREFIXES)
        and any(f"-j {prefix}" in r for prefix in CHAIN_PREFIXES)
    ]  # fmt: skip


def _our_ipsets() -> list[str]:
    return [s for s in _run("ipset", "list", "-n").stdout.split() if s.startswith(IPSET_PREFIXES)]


def _nft_tables() -> list[str]:
    return [f for f in NFT_FAMILIES if _run("nft", "list", "table", f, NFT_TABLE).returncode == 0]


def remove_rules() -> None:
    """kube-proxy's tables, then kube-router's jumps, chains and ipsets (the chains refer to
    the sets, so the sets go last). Call only while holding the lock, or when nobody does."""
    for family in _nft_tables():
        _run("nft", "delete", "table", family, NFT_TABLE)
    for family in IPTABLES:
        for rule in _jumps_to_our_chains(family):
            _run(family, "-t", "filter", "-D", *shlex.split(rule)[1:])
        chains = _our_chains(family)
        for chain in chains:
            _run(family, "-t", "filter", "-F", chain)
        for chain in chains:
            _run(family, "-t", "filter", "-X", chain)
    for name in _our_ipsets():
        _run("ipset", "destroy", name)


def leftovers() -> list[str]:
    """The proxy's and the policy engine's state on this host; empty when clean."""
    found = [f"nft table {family} {NFT_TABLE}" for family in _nft_tables()]
    found += [f"{family} chain {chain}" for family in IPTABLES for chain in _our_chains(family)]
    return found + [f"ipset {name}" for name in _our_ipsets()]


# --- the processes ----------------------------------------------------------------------


def load_ca(ca_path: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The cluster CA's certificate and key (``ca.key`` beside it)."""
    key_path = ca_path.with_name("ca.key")
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{key_path} is not an RSA key")
    return x509.load_pem_x509_certificate(ca_path.read_bytes()), key


class NodeNetwork:
    """kube-proxy and kube-router for one node, under the host lock. ``stop()`` removes
    every rule they made; ``start()`` may follow again."""

    def __init__(
        self, cluster: controlplane.ControlPlane, workdir: Path, network: node_config.Network
    ) -> None:
        self.cluster = cluster
        self.network = network
        self.layout = netconfig.NetworkLayout(workdir / "network")
        self.components: list[processes.Component] = []
        self._lock = HostLock(network.node_name)

    def start(self) -> NodeNetwork:
        self._lock.acquire()
        with processes.undone_on_failure(self.stop):
            remove_rules()  # a killed holder's, if any
            self._write_credentials()
            self._publish_api_endpoint()
            self._start_kube_proxy()
            self._start_kube_router()
        return self

    def stop(self) -> None:
        """Stops both, removes their rules, then frees the lock. Idempotent."""
        processes.stop_all(self.components)
        self.components = []
        if self.cluster.pod_reachable:
            self.cluster.kubectl(
                "delete", "endpointslice", "kubernetes", "-n", "default", "--ignore-not-found",
                check=False,
            )  # fmt: skip
        if _held_by == self._lock.owner:
            remove_rules()
        self._lock.release()

    def _write_credentials(self) -> None:
        cluster, layout = self.cluster, self.layout
        layout.directory.mkdir(parents=True, exist_ok=True)
        ca, ca_key = load_ca(cluster.ca_path)
        for name, data in netconfig.build_client_certs(ca=ca, ca_key=ca_key).items():
            path = layout.directory / name
            path.write_bytes(data)
            path.chmod(0o600)
        for name, path in (
            ("kube-proxy", layout.kube_proxy_kubeconfig),
            ("kube-router", layout.kube_router_kubeconfig),
        ):
            user = kubeconfig.cert_user(
                layout.directory / f"{name}.crt", layout.directory / f"{name}.key"
            )
            config = kubeconfig.build_kubeconfig(
                server=cluster.server, ca_path=cluster.ca_path, user=user, name=name
            )
            kubeconfig.write_kubeconfig(path, config)
        for item in netconfig.build_kube_router_rbac():
            cluster.kubectl("apply", "-f", "-", input=json.dumps(item))

    def _publish_api_endpoint(self) -> None:
        """Gives the ``kubernetes`` Service this node's IP as its endpoint, when the API
        server listens there; else pods cannot reach the API (it binds loopback only)."""
        if not self.cluster.pod_reachable:
            return
        api_slice = netconfig.build_api_endpoint_slice(
            self.network.node_ip, self.cluster.ports.apiserver
        )
        self.cluster.kubectl("apply", "-f", "-", input=json.dumps(api_slice))

    def _start_kube_proxy(self) -> None:
        ports = netconfig.ProxyPorts(*processes.free_ports(2))
        config = netconfig.build_kube_proxy_config(self.layout, self.network, ports=ports)
        self.layout.kube_proxy_config.write_text(json.dumps(config, indent=2))
        argv = netconfig.build_kube_proxy_argv(self.cluster.tool("kube-proxy"), self.layout)
        self.components.append(processes.start("kube-proxy", argv, log_dir=self.layout.directory))
        # /healthz answers 200 once both families have synced (1.36 has no /readyz).
        url = f"http://127.0.0.1:{ports.healthz}/healthz"
        self._wait("kube-proxy synced", lambda: processes.http_ok(url) and bool(_nft_tables()))

    def _start_kube_router(self) -> None:
        port = processes.free_port()
        binary = self.cluster.tool("kube-router")
        argv = netconfig.build_kube_router_argv(binary, self.layout, self.network, health_port=port)
        self.components.append(processes.start("kube-router", argv, log_dir=self.layout.directory))
        ready = f"http://127.0.0.1:{port}/healthz"
        self._wait(
            "kube-router ready", lambda: processes.http_ok(ready) and bool(_our_chains("iptables"))
        )

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        processes.wait_until(what, ready, timeout=START_TIMEOUT, watch=self.components)
