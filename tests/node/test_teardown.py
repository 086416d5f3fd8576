"""The real node leaves the host as it found it: no processes, mounts, cgroups, bridge,
iptables rules or log links, and none of kube-proxy's nftables tables or kube-router's chains
and ipsets, after a normal stop and after its runner is SIGKILLed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.node import pods, workloads
from tests.support import (
    controlplane,
    fixtures_node,
    images,
    node,
    node_addons,
    node_config,
    node_host,
    node_network,
    node_storage,
    processes,
    tools,
)

pytestmark = [pytest.mark.k8s, pytest.mark.node, pytest.mark.slow]
# A cold node start (control plane, image imports, kube-proxy, kube-router) took 395 s on
# this 2-core machine under load from parallel builds.
UP_TIMEOUT = 600.0
# Each test starts a node of its own beside the session's (which it may have to start first),
# and restarts the session node's kube-proxy and kube-router after: beyond the default 600 s.
NODE_TEST_TIMEOUT = 1200


def run_pod(kubeconfig: Path, kubectl: Path, *, image: str, node_name: str) -> None:
    """A web pod on the node under test (the session's real node may share the cluster),
    Ready: a sandbox, a container, a netns, CNI rules. A Service and a NetworkPolicy select
    it, so kube-proxy and kube-router program the host for it (rules, chains, ipsets)."""
    name = f"web-{node_name}"
    pod = pods.build_web_pod(name, image=image)
    pod["spec"]["nodeSelector"]["kubernetes.io/hostname"] = node_name
    policy = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name},
        "spec": {"podSelector": {"matchLabels": {"app": name}}, "policyTypes": ["Ingress"]},
    }  # fmt: skip
    service = pods.build_service(name, selects=name)
    base = [str(kubectl), f"--kubeconfig={kubeconfig}", "-n", "default"]
    apply = [*base, "apply", "-f", "-"]
    for obj in (pod, service, policy):
        subprocess.run(apply, input=json.dumps(obj), text=True, check=True, timeout=60)
    wait = [*base, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s"]
    subprocess.run(wait, check=True, capture_output=True, timeout=150)
    processes.wait_until(
        "kube-router's ipsets for the policy",
        lambda: any(found.startswith("ipset ") for found in node_network.leftovers()),
        timeout=60,
    )


def run_volume_pod(
    kubeconfig: Path, kubectl: Path, *, image: str, node_name: str, index: int
) -> None:
    """A Ready pod on the node under test that wrote to a claim of that node's StorageClass
    and keeps it mounted: a provisioned directory and the kubelet's bind mount of it."""
    name = f"vol-{node_name}"
    claim = workloads.build_claim(name)
    claim["spec"]["storageClassName"] = node_storage.storage_class_name(node_config.Network(index))
    script = workloads.writer_script("x") + "import time\ntime.sleep(3600)\n"
    pod = workloads.build_volume_pod(name, image=image, claim=name, script=script)
    pod["spec"]["nodeSelector"]["kubernetes.io/hostname"] = node_name
    base = [str(kubectl), f"--kubeconfig={kubeconfig}", "-n", "default"]
    for obj in (claim, pod):
        subprocess.run([*base, "apply", "-f", "-"], input=json.dumps(obj), text=True, check=True)
    wait = [*base, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=180s"]
    subprocess.run(wait, check=True, capture_output=True, timeout=200)


def assert_addons_ran(workdir: Path) -> None:
    """Before the stop: the provisioner, metrics-server and one volume directory."""
    found = node_addons.leftovers(workdir)
    for what in (*node_addons.NAMES, "volume"):
        assert any(item.startswith(what) for item in found), found
    assert any("kubernetes.io~local-volume" in str(p) for p in node_host.mounts_under(workdir))


@pytest.fixture
def host_network_free(real_node: node.RealNode) -> Iterator[None]:
    """Only one node per host runs kube-proxy and kube-router (node_network's host lock):
    the session node's are stopped while a test runs a node of its own, then restarted."""
    assert real_node.service_network is not None
    real_node.service_network.stop()
    try:
        yield
    finally:
        real_node.service_network.start()


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
@pytest.mark.usefixtures("host_network_free")
def test_stop_leaves_the_host_clean(
    cluster: controlplane.ControlPlane, agent_image: images.ImageRefs
) -> None:
    real = fixtures_node.start_node(cluster, agent_image)
    try:
        kubectl = cluster.tool("kubectl")
        run_pod(cluster.kubeconfig_path, kubectl, image=agent_image.agent, node_name=real.name)
        run_volume_pod(
            cluster.kubeconfig_path, kubectl, image=agent_image.agent, node_name=real.name,
            index=real.network.index,
        )  # fmt: skip
        assert_addons_ran(real.layout.workdir)
        assert node_host.leftovers(real.layout.workdir, real.network) != []
        assert node_network.leftovers() != []
    finally:
        real.stop()
    assert node_addons.leftovers(real.layout.workdir) == []
    assert node_host.leftovers(real.layout.workdir, real.network) == []
    assert node_network.leftovers() == []


def start_runner() -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``python -m tests.support.node up`` in its own session; returns it and what it printed
    once ready (KUBECONFIG, the agent image and the node's work dir)."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "tests.support.node", "up"],
        cwd=tools.REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    printed: dict[str, str] = {}
    deadline = time.monotonic() + UP_TIMEOUT
    assert runner.stdout is not None
    while "KUBECONFIG" not in printed and time.monotonic() < deadline:
        line = runner.stdout.readline()
        if not line:
            break
        if match := re.search(r"^node (\S+) Ready at .* \(state in (\S+)\)", line):
            printed["node"], printed["workdir"] = match.groups()
        if line.startswith("AGENT_IMAGE="):
            printed["AGENT_IMAGE"] = line.strip().split("=", 1)[1]
        if line.startswith("export KUBECONFIG="):
            printed["KUBECONFIG"] = line.strip().split("=", 1)[1]
    if "KUBECONFIG" not in printed:
        runner.kill()
        pytest.fail(f"the node runner did not come up: {runner.stdout.read()[-3000:]}")
    return runner, printed


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
@pytest.mark.usefixtures("host_network_free")
def test_cleanup_after_the_runner_is_sigkilled() -> None:
    fixtures_node.require_node_host()
    runner, printed = start_runner()
    workdir = Path(printed["workdir"])
    network = node_config.Network(json.loads((workdir / node.OWNER_FILE).read_text())["index"])
    try:
        # The runner's image: another build may have changed the refs since the session began.
        kubectl = tools.tools_bin() / "kubectl"
        image, node_name = printed["AGENT_IMAGE"], printed["node"]
        run_pod(Path(printed["KUBECONFIG"]), kubectl, image=image, node_name=node_name)
        run_volume_pod(
            Path(printed["KUBECONFIG"]), kubectl, image=image, node_name=node_name,
            index=network.index,
        )  # fmt: skip
        assert_addons_ran(workdir)
    finally:
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
    # The kernel freed the runner's host lock: take it while looking, or a node of another
    # session waiting for it would sweep (and replace) the rules first.
    lock = node_network.HostLock("teardown-test")
    lock.acquire(timeout=60)
    try:
        time.sleep(1)  # its children get their parent-death signal
        assert node_host.leftovers(workdir, network) != []  # the shim and the container survive
        assert node_network.leftovers() != []  # the nftables table, chains and ipsets too
    finally:
        lock.release()
    # Another session's node start may sweep it first: either way, it is gone.
    node.clean_stale()
    assert node_addons.leftovers(workdir) == []
    assert node_host.leftovers(workdir, network) == []
    assert node_network.leftovers() == []
