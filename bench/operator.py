"""Operator benchmark on the real local control plane (issue 5 goals).

1. 200 RagAgents applied at once: seconds until every one reports Reconciled=True,
   against ``kubectl apply --server-side`` of the same rendered children (goal <= 1.5x).
2. Writes the operator sends to its kinds during one no-op resync of all 200 (goal 0), read
   from the API server's audit log by the operator's user.
3. The operator's resident memory (goal <= 150 MiB).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes import watch as kwatch

from ragagent_operator import constants as c
from ragagent_operator import k8s
from ragagent_operator.render import (
    configmap,
    deployment,
    networkpolicy,
    pdb,
    secrets,
    service,
    serviceaccount,
)
from ragagent_operator.render.common import build_agent, stable_hash
from tests.operator.integration import harness
from tests.support import audit, controlplane

COUNT = 200
RESYNC_SECONDS = 30.0


def ragagent(index: int) -> dict[str, Any]:
    return {
        "apiVersion": "ragagent.dev/v1alpha1",
        "kind": "RagAgent",
        "metadata": {"name": f"agent-{index:03d}"},
        "spec": {"database": {"external": {"secretRef": {"name": "pg", "key": "url"}}}},
    }


def rendered_children(namespace: str, index: int) -> list[dict[str, Any]]:
    """What the operator applies for one agent (no ownerReferences: there is no owner)."""
    agent = build_agent(
        {**ragagent(index), "metadata": {"name": f"agent-{index:03d}", "namespace": namespace}},
        default_image="ragagent:test",
    )
    sealed = {"secret-key": "AgA" + stable_hash(index) * 20}
    children = [
        serviceaccount.build_service_account(agent),
        secrets.build_sealed_secret(agent, secrets.generated_secret_name(agent), sealed),
        configmap.build_config_map(agent),
        deployment.build_deployment(agent, config_hash="c", secrets_hash="s"),
        service.build_service(agent),
        pdb.build_pdb(agent),
        *networkpolicy.build_network_policies(agent),
    ]
    for child in children:
        child["metadata"].pop("ownerReferences", None)
    return [k8s.with_spec_hash(child) for child in children]


def is_true(item: dict[str, Any], kind: str) -> bool:
    conditions = (item.get("status") or {}).get("conditions") or []
    return any(cond["type"] == kind and cond["status"] == "True" for cond in conditions)


def all_reconciled(
    cluster: controlplane.ControlPlane, namespace: str, kind: str = "Reconciled"
) -> int:
    items = json.loads(cluster.kubectl("get", "ragagents", "-n", namespace, "-o", "json").stdout)
    return sum(1 for item in items["items"] if is_true(item, kind))


class ReconciledWatch:
    """The moment every RagAgent of a namespace is Reconciled=True at once, from a watch.

    A watch rather than a poll: a ``kubectl get`` of 200 RagAgents each second takes CPU
    from the operator and the API server on this 2-core machine (the kubectl baseline has
    no poller beside it) and lands up to a poll interval after the moment it measures.
    """

    def __init__(self, cluster: controlplane.ControlPlane, namespace: str, count: int) -> None:
        self.namespace, self.count = namespace, count
        self.api = kconfig.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(cluster.kubeconfig_path)
        )
        self.finished_at: float | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ReconciledWatch:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.api.close()

    def wait(self, timeout: float) -> float:
        if not self.done.wait(timeout) or self.finished_at is None:
            raise TimeoutError(f"not all {self.count} RagAgents Reconciled in {timeout:.0f} s")
        return self.finished_at

    def _run(self) -> None:
        custom = kclient.CustomObjectsApi(self.api)
        reconciled: set[str] = set()
        stream: Any = kwatch.Watch()  # type: ignore[no-untyped-call]  # untyped library
        # Without a resourceVersion the watch first lists what exists as ADDED events, so
        # RagAgents created before it connected are seen too.
        for event in stream.stream(
            custom.list_namespaced_custom_object,
            c.GROUP,
            c.VERSION,
            self.namespace,
            c.PLURAL,
            timeout_seconds=1800,
        ):
            item = event["object"]
            name = item["metadata"]["name"]
            if event["type"] != "DELETED" and is_true(item, "Reconciled"):
                reconciled.add(name)
            else:
                reconciled.discard(name)
            if len(reconciled) >= self.count:
                self.finished_at = time.perf_counter()
                self.done.set()
                stream.stop()


def time_operator(cluster: controlplane.ControlPlane) -> float:
    cluster.kubectl("create", "namespace", "bench-op")
    harness.grant_secrets(cluster, "bench-op")
    cluster.kubectl(
        "create",
        "secret",
        "generic",
        "pg",
        "-n",
        "bench-op",
        # verify-full: the operator reports an external URL the agent would refuse as
        # DatabaseReady=False (DatabaseTLSNotVerified), and no RagAgent would turn Ready.
        "--from-literal=url=postgresql://u:p@db:5432/r?sslmode=verify-full&sslrootcert=system",
    )
    cluster.kubectl("label", "secret", "pg", "-n", "bench-op", "ragagent.dev/use=true")
    manifest = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "List", "items": [ragagent(i) for i in range(COUNT)]}
    )
    with ReconciledWatch(cluster, "bench-op", COUNT) as watch:
        started = time.perf_counter()
        cluster.kubectl("apply", "--server-side", "-n", "bench-op", "-f", "-", input=manifest)
        return watch.wait(timeout=900) - started


def time_kubectl(cluster: controlplane.ControlPlane) -> float:
    cluster.kubectl("create", "namespace", "bench-kubectl")
    items = [child for i in range(COUNT) for child in rendered_children("bench-kubectl", i)]
    path = Path(tempfile.mkstemp(suffix=".yaml")[1])
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    started = time.perf_counter()
    argv = [str(cluster.tool("kubectl")), "apply", "--server-side", "--field-manager=bench"]
    subprocess.run(
        [*argv, "-f", str(path)], env=cluster.env(), check=True, capture_output=True, timeout=1800
    )
    return time.perf_counter() - started


def delete_namespace(
    cluster: controlplane.ControlPlane, namespace: str, *, timeout: float = 600.0
) -> float:
    """Deletes ``namespace`` and waits until it is gone; returns the seconds that took.

    Not through ``cluster.kubectl``: its 120 s limit is for quick calls, and the namespace
    controller's garbage collection of 200 RagAgents' children takes longer than that
    (every child is owned, none adopted, so each is deleted on its own)."""
    argv = [str(cluster.tool("kubectl")), "delete", "namespace", namespace, "--wait=true",
            f"--timeout={timeout:.0f}s"]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(argv, env=cluster.env(), check=True, capture_output=True, timeout=timeout + 60)
    return time.perf_counter() - started


def request_counts(cluster: controlplane.ControlPlane) -> dict[str, float]:
    """``apiserver_request_total`` summed by "VERB resource[/subresource]" (all clients)."""
    counts: dict[str, float] = {}
    for line in cluster.apiserver_metrics().splitlines():
        if line.startswith("apiserver_request_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            sub = f"/{labels['subresource']}" if labels.get("subresource") else ""
            key = f"{labels['verb']} {labels['resource']}{sub}"
            counts[key] = counts.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


def per_agent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Requests per RagAgent between two snapshots, busiest first (the poller's LISTs of
    ragagents and the controllers' own requests are included: they share the counter)."""
    delta = {key: (after[key] - before.get(key, 0.0)) / COUNT for key in after}
    return dict(
        sorted(((k, round(v, 2)) for k, v in delta.items() if v >= 0.01), key=lambda item: -item[1])
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def noop_writes(
    cluster: controlplane.ControlPlane, operator: harness.Operator
) -> tuple[dict[str, int], float]:
    """The operator's writes to objects of its kinds during 1.5 resync intervals (every agent
    resyncs), from the API server's audit log by the operator's user: the sealed-secrets
    controller and the controller manager write Secrets too, and are not the operator."""
    since, timer_before = audit.offset(cluster.audit_log_path), _timer_reconciles(operator)
    time.sleep(1.5 * RESYNC_SECONDS)
    writes = audit.read_writes(cluster.audit_log_path, since)
    ours = audit.object_writes(
        writes, user=harness.OPERATOR_USER, resources=harness.OPERATOR_RESOURCES
    )
    return audit.tally(ours), _timer_reconciles(operator) - timer_before


def _timer_reconciles(operator: harness.Operator) -> float:
    import urllib.request

    with urllib.request.urlopen(
        f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5
    ) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("ragagent_operator_reconciles_total{") and 'trigger="timer"' in line
    )


def events_per_agent(cluster: controlplane.ControlPlane, namespace: str) -> dict[str, float]:
    """Events in ``namespace`` per RagAgent, by reporting component and reason."""
    items = json.loads(cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)
    counts: dict[str, float] = {}
    for event in items["items"]:
        source = event.get("reportingComponent") or (event.get("source") or {}).get("component")
        key = f"{source} {event.get('reason')}"
        counts[key] = counts.get(key, 0.0) + 1 / COUNT
    return {key: round(value, 2) for key, value in sorted(counts.items())}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def install_operator_prereqs(cluster: controlplane.ControlPlane) -> Path:
    """Applies the CRDs, RBAC and peering; returns a kubeconfig of the operator's account."""
    for path in ("crd", "rbac-cluster"):
        cluster.kubectl("apply", "-k", str(harness.REPO / "manifests" / path))
    harness.wait_established(cluster)
    cluster.kubectl("apply", "-f", str(harness.REPO / "manifests" / "operator" / "peering.yaml"))
    token = cluster.token_for(
        harness.OPERATOR_SERVICE_ACCOUNT, harness.OPERATOR_NAMESPACE, duration="2h"
    )
    return cluster.kubeconfig_for_token(token, name="bench-operator")


def wait_all_ready(cluster: controlplane.ControlPlane, namespace: str) -> None:
    """Waits up to 900 s for every RagAgent in ``namespace`` to turn Ready."""
    deadline = time.monotonic() + 900
    while all_reconciled(cluster, namespace, "Ready") < COUNT:
        if time.monotonic() > deadline:
            raise TimeoutError("not all RagAgents turned Ready in 900 s")
        time.sleep(2.0)


def main() -> None:
    with controlplane.ControlPlane() as cluster:
        kubeconfig = install_operator_prereqs(cluster)
        operator = harness.start_operator(
            cluster, kubeconfig, "bench", resync_seconds=RESYNC_SECONDS
        )
        try:
            baseline = time_kubectl(cluster)
            # The test cluster's Service range (10.0.0.0/24) holds 254 addresses: free the
            # baseline's 200 before the operator needs its own 200.
            deleted = delete_namespace(cluster, "bench-kubectl")
            started = time.perf_counter()
            requests_before, cpu_before = request_counts(cluster), cpu_seconds(operator.process.pid)
            reconciled = time_operator(cluster)
            requests = per_agent(requests_before, request_counts(cluster))
            cpu = cpu_seconds(operator.process.pid) - cpu_before
            events = events_per_agent(cluster, "bench-op")
            print(
                f"operator: {COUNT} reconciled in {reconciled:.1f} s, kubectl baseline "
                f"{baseline:.1f} s, its namespace deleted in {deleted:.1f} s",
                flush=True,
            )
            # Steady state first: unsealed Secrets roll the pods once, then all turn Ready.
            wait_all_ready(cluster, "bench-op")
            ready = time.perf_counter() - started
            time.sleep(RESYNC_SECONDS)
            writes, resyncs = noop_writes(cluster, operator)
            memory = rss_mib(operator.process.pid)
        finally:
            harness.stop(operator)
    result = {
        "agents": COUNT,
        "operator_all_reconciled_s": round(reconciled, 1),
        "kubectl_server_side_apply_s": round(baseline, 1),
        "namespace_delete_s": round(deleted, 1),
        "operator_all_ready_s": round(ready, 1),
        "operator_cpu_until_reconciled_s": round(cpu, 1),
        "requests_per_agent_until_reconciled": requests,
        "events_per_agent_until_reconciled": events,
        "ratio": round(reconciled / baseline, 2),
        "noop_resync_reconciles": resyncs,
        "noop_resync_writes": sum(writes.values()),
        "noop_resync_writes_by_kind": writes,
        "operator_rss_mib": round(memory, 1),
    }
    print(
        f"operator: {COUNT} RagAgents reconciled in {reconciled:.1f} s vs kubectl apply "
        f"--server-side {baseline:.1f} s (ratio {result['ratio']}, goal <= 1.5)"
    )
    print(
        f"operator: no-op resync of {resyncs:.0f} reconciles made "
        f"{result['noop_resync_writes']:.0f} writes of its own (goal 0; audit log by user)"
    )
    print(f"operator: RSS {memory:.1f} MiB (goal <= 150); CPU until reconciled {cpu:.1f} s")
    print("operator: requests per RagAgent until all reconciled (all clients):")
    for key, value in requests.items():
        print(f"  {value:6.2f}  {key}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
