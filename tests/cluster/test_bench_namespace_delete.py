"""`make bench`'s operator part deletes its 200-RagAgent baseline namespace and waits for it.

That takes minutes (each owned child is garbage-collected on its own), longer than the
120 s that ``ControlPlane.kubectl`` allows a call, which crashed the bench. Here that limit
is lowered to KUBECTL_LIMIT seconds and a finalizer holds a namespace past it; a
delete_namespace that went through ``cluster.kubectl`` would time out the same way, while
bench.operator.delete_namespace waits it out (20 s instead of the 130 s a real limit needs)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from bench import operator as bench_operator
from tests.support import controlplane

pytestmark = [pytest.mark.k8s, pytest.mark.slow]
KUBECTL_LIMIT = 10.0  # roomy for the quick calls below on a loaded 2-core machine
HOLD_SECONDS = 20  # twice past the lowered kubectl limit
FINALIZER = "bench.ragagent.dev/hold"


def test_the_bench_waits_for_a_namespace_deletion_longer_than_a_kubectl_call(
    cluster: controlplane.ControlPlane, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "kubectl_timeout", KUBECTL_LIMIT)
    held = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "held", "namespace": namespace, "finalizers": [FINALIZER]},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(held))

    def release() -> None:
        time.sleep(HOLD_SECONDS)
        patch = json.dumps({"metadata": {"finalizers": None}})
        cluster.kubectl("patch", "configmap", "held", "-n", namespace, "--type=merge", "-p", patch)

    releaser = threading.Thread(target=release, daemon=True)
    releaser.start()
    took = bench_operator.delete_namespace(cluster, namespace, timeout=300)
    releaser.join(timeout=30)
    assert took >= HOLD_SECONDS > cluster.kubectl_timeout
    gone = cluster.kubectl("get", "namespace", namespace, "--ignore-not-found", "-o", "name")
    assert gone.stdout.strip() == ""
