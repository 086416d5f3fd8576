"""The user journey on the real node, as a user runs it: ``helm install`` of the operator
chart (two replicas of the built image, running as pods), then the minimal sample with a
knowledge ConfigMap, an API key made with ``kubectl exec``, and chat through ``kubectl
port-forward`` with the OpenAI SDK and over a WebSocket; the NetworkPolicies enforced; a
changed ConfigMap re-ingested; a backup and a restore; and last, the RagAgent deleted with
everything it made. One chart install and one RagAgent serve every step, in order; each
prints its wall time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts import chart_cluster
from tests.e2e import chart, chat, data, steps
from tests.e2e import manifests as e2e_manifests
from tests.node import kube, pods
from tests.support import controlplane, fixtures_cluster, images, node, peering

pytestmark = steps.MARKS
SAMPLE = chart_cluster.REPO / "manifests" / "samples" / "minimal.yaml"
KNOWLEDGE = "docs-knowledge"
# A fact no model knows: the answer can only come from the ConfigMap.
FACT_FILE = "returns.md"
FACT = "Zephyr lamps may be returned within 47 days when the receipt shows a teal stamp."
QUESTION = "Within how many days may Zephyr lamps be returned?"
# Step 5's ConfigMap: the fact changed, and a second file.
NEW_FACT = "Zephyr lamps may be returned within 62 days when the receipt shows a teal stamp."
EXTRA_FILE = "warranty.md"
EXTRA_FACT = "Zephyr lamps carry a nine year warranty on their teal filament."
BACKUP_JOB = "e2e-backup"
WEB = "web"
METRICS_PORT = 9090
# What the sample (managed database, knowledge, backups) makes, at least; step 11 lists
# every namespaced kind and expects each of these among the RagAgent's objects.
CHILD_KINDS = {
    "ServiceAccount", "ConfigMap", "Secret", "SealedSecret", "Deployment", "ReplicaSet", "Pod",
    "Service", "StatefulSet", "PersistentVolumeClaim", "CronJob", "Job", "NetworkPolicy",
}  # fmt: skip


def test_the_chart_runs_two_operator_pods_on_the_real_node_and_one_is_active(
    cluster: controlplane.ControlPlane, real_node: node.RealNode, operator_namespace: str
) -> None:
    pods = steps.get_json(cluster, operator_namespace, "pods", "-l", chart.SELECTOR)["items"]
    assert len(pods) == 2
    assert {pod["spec"]["nodeName"] for pod in pods} == {real_node.name}

    names = sorted(pod["metadata"]["name"] for pod in pods)

    def election() -> tuple[str, list[str]] | None:
        """The highest-priority live replica and the replicas active by their logs, once
        both replicas have a live peering record."""
        records = chart.live_peers(cluster, chart.PEERING)
        if sorted(records) != names:
            return None
        logs = {n: cluster.kubectl("logs", "-n", operator_namespace, n).stdout for n in names}
        active = [name for name, log in logs.items() if peering.is_active(log)]
        highest = max(records, key=lambda name: records[name])
        return (highest, active) if active == [highest] else None

    with steps.timed("one operator replica pauses for the other"):
        steps.wait_until(election, "the highest-priority replica alone active", timeout=120)


@pytest.fixture(scope="module")
def sample(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    agent_image: images.ImageRefs,
    journey_operator: Callable[[], str],
    journey_namespace: str,
) -> str:
    """The minimal sample plus a knowledge ConfigMap, on the real node, Ready; its name.
    Its managed database needs a default StorageClass (the node's local-path provisioner)."""
    if not steps.has_default_storage_class(cluster):
        fixtures_cluster.skip_loudly_or_fail(
            "!!! no default StorageClass: the managed database's volume cannot bind, so the "
            "minimal sample is NOT RUN !!!"
        )
    agent = yaml.safe_load(SAMPLE.read_text())
    spec = agent["spec"]
    spec.update(e2e_manifests.build_real_node_scheduling(real_node.name))
    # No registry here: the managed database runs the locally built PostgreSQL image.
    spec["database"]["managed"]["image"] = agent_image.postgres
    spec["knowledge"] = {"sources": [{"configMap": {"name": KNOWLEDGE}}]}
    # Backups on, as the full variant has them: steps 6 and 11 back up, restore and delete.
    spec["backup"] = {"enabled": True, "storage": {"size": "1Gi"}}
    name = str(agent["metadata"]["name"])
    with steps.timed("minimal sample + knowledge ConfigMap -> Ready=True"):
        steps.apply(cluster, journey_namespace, build_knowledge({FACT_FILE: FACT}))
        steps.apply(cluster, journey_namespace, agent)
        steps.wait_for_condition(
            cluster, journey_namespace, name, lambda c: c["status"] == "True", timeout=420,
            explain=journey_operator,
        )  # fmt: skip
    # Ready says the agent serves; what it knows is KnowledgeSynced, which a user waits for
    # (kubectl wait --for=condition=KnowledgeSynced) before asking about the ConfigMap.
    with steps.timed("knowledge ConfigMap synced -> KnowledgeSynced=True"):
        steps.wait_for_condition(
            cluster, journey_namespace, name, lambda c: c["status"] == "True",
            kind="KnowledgeSynced", timeout=300, explain=journey_operator,
        )  # fmt: skip
    return name


def build_knowledge(facts: dict[str, str]) -> dict[str, Any]:
    """The knowledge ConfigMap: a Markdown file per key, holding its fact."""
    files = {name: f"# {name.split('.')[0].title()}\n\n{fact}\n" for name, fact in facts.items()}
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": KNOWLEDGE, "labels": e2e_manifests.USE_LABEL},
        "data": files,
    }  # fmt: skip


def test_the_sample_is_ready_only_with_a_ready_agent_pod_on_the_real_node(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    journey_namespace: str,
    sample: str,
) -> None:
    selector = steps.agent_selector(sample)
    pods = steps.get_json(cluster, journey_namespace, "pods", "-l", selector)["items"]
    ready = [pod for pod in pods if steps.is_ready(pod)]
    assert ready, "Ready=True without a Ready agent pod"
    assert {pod["spec"]["nodeName"] for pod in ready} == {real_node.name}


@pytest.fixture(scope="module")
def agent(sample: str) -> str:
    """The sample is this module's agent, for the fixtures the steps share (``api_key``)."""
    return sample


@pytest.fixture(scope="module")
def forwarded(
    cluster: controlplane.ControlPlane, journey_namespace: str, sample: str
) -> Iterator[str]:
    """``kubectl port-forward svc/<sample>``: the local base URL."""
    with chat.port_forward(cluster, journey_namespace, f"svc/{sample}") as url:
        yield url


def test_chat_through_port_forward_with_the_openai_sdk_cites_the_knowledge_configmap(
    forwarded: str, api_key: str, tmp_path: Path
) -> None:
    with steps.timed("OpenAI SDK chat through kubectl port-forward"):
        answer, citations = chat.ask_openai(forwarded, api_key, QUESTION)
    assert "47" in answer, answer
    assert any(chat.cites(c, FACT_FILE) for c in citations), json.dumps(citations)


def test_chat_over_a_websocket_cites_the_knowledge_configmap(forwarded: str, api_key: str) -> None:
    with steps.timed("WebSocket chat through kubectl port-forward"):
        answer, citations = chat.ask_websocket(forwarded, api_key, QUESTION)
    assert "47" in answer, answer
    assert any(chat.cites(c, FACT_FILE) for c in citations), json.dumps(citations)


@pytest.fixture(scope="module")
def stranger(
    cluster: controlplane.ControlPlane, agent_image: images.ImageRefs, client: str
) -> Iterator[str]:
    """A probe pod named as the client, in a namespace of its own; yields that namespace."""
    with (
        kube.namespace(cluster, "e2e-stranger") as elsewhere,
        steps.probe_pod(cluster, elsewhere, client, image=agent_image.agent),
    ):
        yield elsewhere


@pytest.fixture(scope="module")
def ask_service(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    sample: str,
    api_key: str,
    client: str,
) -> chat.Ask:
    """QUESTION from the client pod through the agent's Service."""
    url = f"http://{sample}:{chat.APP_PORT}"  # the pod's search path completes the name
    return functools.partial(
        chat.ask_from_pod, cluster, journey_namespace, client, url=url, key=api_key,
        question=QUESTION,
    )  # fmt: skip


def test_chat_through_the_service_from_a_client_pod_cites_the_knowledge_configmap(
    ask_service: chat.Ask,
) -> None:
    with steps.timed("chat through the Service from a client pod"):
        answer, citations = ask_service()
    assert "47" in answer, answer
    assert any(chat.cites(c, FACT_FILE) for c in citations), json.dumps(citations)


def test_a_pod_outside_the_agents_namespace_cannot_reach_it(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    sample: str,
    client: str,
    stranger: str,
) -> None:
    """The agent admits pods of its own namespace (the default ingressFrom) only."""
    service_ip = kube.field(cluster, journey_namespace, "service", sample, ".spec.clusterIP")
    with steps.timed("NetworkPolicy: inside reaches the agent, outside is cut off"):
        assert kube.can_connect(cluster, journey_namespace, client, service_ip, chat.APP_PORT)
        assert not kube.can_connect(cluster, stranger, client, service_ip, chat.APP_PORT)


def test_only_the_monitoring_namespace_scrapes_the_metrics_port(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    sample: str,
    client: str,
    scraper: tuple[str, str],
) -> None:
    """9090 admits the monitoring namespace only; the agent's own neighbours get 8000."""
    selector = steps.agent_selector(sample)
    agent_pod = steps.get_json(cluster, journey_namespace, "pods", "-l", selector)["items"][0]
    metrics = f"http://{agent_pod['status']['podIP']}:{METRICS_PORT}/metrics"
    scrape = ("python3", "-c", kube.FETCH, metrics)
    with steps.timed("NetworkPolicy: monitoring scrapes :9090, a neighbour cannot"):
        kube.eventually(
            "the monitoring pod scrapes the agent",
            lambda: kube.in_pod(cluster, *scraper, *scrape).returncode == 0,
        )
        neighbour = kube.in_pod(cluster, journey_namespace, client, *scrape)
    assert "ragagent_" in kube.fetch(cluster, *scraper, metrics)
    assert neighbour.returncode != 0, neighbour.stdout[:500]


def test_the_agent_cannot_open_a_port_that_no_policy_allows(
    cluster: controlplane.ControlPlane,
    agent_image: images.ImageRefs,
    journey_namespace: str,
    sample: str,
    client: str,
) -> None:
    """A web pod its neighbour reaches: the agent's egress (DNS, database, model) has no
    rule for it. kube-router rejects what a policy denies, so the connection is refused at
    once (a policy engine that drops would let it time out)."""
    ns = journey_namespace
    kube.apply(cluster, ns, pods.build_web_pod(WEB, image=agent_image.agent))
    kube.wait_ready(cluster, ns, WEB)
    web_ip = kube.field(cluster, ns, "pod", WEB, ".status.podIP")
    port = str(pods.WEB_PORT)
    try:
        with steps.timed("NetworkPolicy: the agent cannot open a port nothing allowed"):
            assert kube.can_connect(cluster, ns, client, web_ip, pods.WEB_PORT)
            denied = kube.in_pod(
                cluster, ns, f"deploy/{sample}", "python3", "-c", kube.CONNECT, web_ip, port
            )
    finally:
        cluster.kubectl("delete", "pod", WEB, "-n", ns, "--wait=false")
    assert denied.returncode != 0, denied.stdout
    refused = ("ConnectionRefusedError", "TimeoutError", "timed out")
    assert any(word in denied.stderr for word in refused), denied.stderr[-500:]


def test_a_changed_knowledge_configmap_is_ingested_once_and_changes_the_answer(
    cluster: controlplane.ControlPlane, journey_namespace: str, sample: str, ask_service: chat.Ask
) -> None:
    ns = journey_namespace

    def changed() -> tuple[str, list[dict[str, Any]]] | None:
        if data.knowledge(cluster, ns, sample)["documents"] != 2:
            return None
        answer, citations = ask_service()
        return (answer, citations) if "62" in answer else None

    with steps.timed("knowledge ConfigMap changed -> ingested once, the answer changes"):
        steps.apply(cluster, ns, build_knowledge({FACT_FILE: NEW_FACT, EXTRA_FILE: EXTRA_FACT}))
        answer, citations = steps.wait_until(changed, "the new content in answers", timeout=300)
    assert "47" not in answer, answer
    assert any(chat.cites(c, FACT_FILE) for c in citations), json.dumps(citations)
    found = data.knowledge(cluster, ns, sample)
    # One row per file, each cut once: the changed file replaced its old chunks.
    assert found["documents"] == found["external_ids"] == 2, found
    assert found["chunks"] == found["recorded_chunks"], found
    stale = f"SELECT count(*) FROM {data.SERVING_CHUNKS} AND text LIKE '%47 days%'"
    assert data.psql(cluster, ns, sample, stale) == "0"


@pytest.fixture(scope="module")
def backup_report(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    sample: str,
    journey_operator: Callable[[], str],
) -> dict[str, Any]:
    """A backup run by hand from the CronJob, as a user does; its result line."""
    ns = journey_namespace
    with steps.timed("kubectl create job --from=cronjob -> BackupReady=True"):
        cluster.kubectl("create", "job", "-n", ns, BACKUP_JOB, f"--from=cronjob/{sample}-backup")
        data.wait_job(cluster, ns, BACKUP_JOB)
        steps.wait_for_condition(
            cluster, ns, sample, lambda c: c["status"] == "True", kind="BackupReady",
            timeout=120, explain=journey_operator,
        )  # fmt: skip
    return data.job_report(cluster, ns, BACKUP_JOB)


def test_a_backup_job_writes_its_dump_to_the_bound_volume_and_reports_its_size(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    sample: str,
    backup_report: dict[str, Any],
) -> None:
    assert backup_report["result"] == "succeeded", backup_report
    status = steps.get_json(cluster, journey_namespace, "ragagent", sample)["status"]
    assert status["lastBackup"]["result"] == "Succeeded", status
    assert status["lastBackup"]["size"] == backup_report["size"] > 0, status
    claim = f"{sample}-backups"
    backup_dir = (
        data.volume_dir(cluster, journey_namespace, claim) / Path(backup_report["backup"]).name
    )
    assert (backup_dir / "dump.pgc").stat().st_size == backup_report["size"]
    assert (backup_dir / "manifest.json").is_file()


def test_spec_restore_brings_back_a_dropped_document_and_the_row_counts_match(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    sample: str,
    ask_service: chat.Ask,
    backup_report: dict[str, Any],
    journey_operator: Callable[[], str],
) -> None:
    ns = journey_namespace
    backed_up = {table: backup_report["rows"][table] for table in data.COUNTED}
    assert data.row_counts(cluster, ns, sample) == backed_up
    [dropped] = [f for f in data.knowledge(cluster, ns, sample)["files"] if "warranty" in f]
    data.psql(cluster, ns, sample, f"DELETE FROM documents WHERE external_id = '{dropped}'")
    assert data.row_counts(cluster, ns, sample)["documents"] == backed_up["documents"] - 1
    restore = {"from": Path(backup_report["backup"]).name, "force": True}
    patch = json.dumps({"spec": {"restore": restore}})
    with steps.timed("spec.restore -> Restored=True, the agent back and answering"):
        cluster.kubectl("patch", "ragagent", sample, "-n", ns, "--type=merge", "-p", patch)
        for kind in ("Restored", "Ready"):
            steps.wait_for_condition(
                cluster, ns, sample, lambda c: c["status"] == "True", kind=kind, timeout=300,
                explain=journey_operator,
            )  # fmt: skip
        # Counted before any chat: each answer adds a conversation and its messages.
        restored = data.row_counts(cluster, ns, sample)
        answer = steps.wait_until(
            lambda: chat.answer_or_empty(ask_service),
            "an answer after the restore",
        )
    assert restored == backed_up
    assert dropped in data.knowledge(cluster, ns, sample)["files"]
    assert "62" in answer, answer


def test_deleting_the_ragagent_garbage_collects_every_child_and_both_volumes(
    cluster: controlplane.ControlPlane, journey_namespace: str, sample: str
) -> None:
    """No finalizer: the garbage collector takes every child, the database's claim and the
    backup claim included (docs/operator.md, Deletion), and the local-path class's
    reclaimPolicy Delete then removes their volumes' directories."""
    ns = journey_namespace
    uid = steps.get_json(cluster, ns, "ragagent", sample)["metadata"]["uid"]
    children = data.owned_objects(cluster, ns, sample, uid)
    assert {item["kind"] for item in children} >= CHILD_KINDS, data.describe(children)
    claims = sorted(i["metadata"]["name"] for i in children if i["kind"] == "PersistentVolumeClaim")
    assert claims == sorted([f"{sample}-backups", f"data-{sample}-postgres-0"]), claims
    volumes = [data.volume_dir(cluster, ns, claim) for claim in claims]
    left: list[str] = []

    def all_gone() -> bool:
        left[:] = data.describe(data.owned_objects(cluster, ns, sample, uid))
        left.extend(str(path) for path in volumes if path.exists())
        return not left

    with steps.timed("RagAgent deleted -> every child and both volumes gone"):
        cluster.kubectl("delete", "ragagent", sample, "-n", ns, "--wait=true")
        steps.wait_until(all_gone, "every child gone", timeout=240, explain=lambda: str(left))
    # The user's own ConfigMap is referenced, never owned: it stays.
    assert steps.get_json(cluster, ns, "configmap", KNOWLEDGE) is not None
