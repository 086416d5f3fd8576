"""Journey steps 7 and 10 and a model change (``make e2e``): changing a serving RagAgent
while users chat.

One RagAgent (the minimal sample's managed database, a knowledge ConfigMap, backups on)
serves every step, so the journey pays for one database and one API key:

- step 7: new chunking (the image holds one local embedding model, so the index settings
  change by their chunking). The operator runs the pre-reindex backup Job first and the
  re-index Job (``ragagent index rollout``: a generation built beside the serving one,
  self-checked, switched) only after it succeeded; ``Reindexed`` reports the switch and
  the agent moves to the new chunking only then; a client pod asks through the Service
  every second throughout, and every answer holds the fact.
- the embedding model's change, last: from the bundled MiniLM (384 dimensions) to an
  OpenAI-compatible embeddings API served in the cluster (``fake_embeddings``, 24
  dimensions). The same backup, then a gated build beside the serving generation and the
  switch, with the client asking throughout: no failed chat, every answer cites the fact.
- step 10: a rolling update (a new ``spec.rateLimit``) while a WebSocket streams answer
  after answer and REST requests go on beside it: no request fails and no answer is cut.
  The Deployment makes that possible (preStop before SIGTERM, so the endpoint goes first;
  a grace period that covers the agent's drain; a readiness probe for the new pod), and
  the agent finishes the answers in flight when SIGTERM comes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from ragagent_operator import constants
from tests.e2e import chat, data, fake_embeddings, manifests, steps, watch
from tests.operator.integration import harness
from tests.support import controlplane, fixtures_cluster, images, node

pytestmark = steps.MARKS
AGENT = "changes"
KNOWLEDGE = "changes-knowledge"
SELECTOR = steps.agent_selector(AGENT)
FACT = "Zephyr lamps may be returned within 47 days when the receipt shows a teal stamp."
QUESTION = "Within how many days may Zephyr lamps be returned?"
# Filler around the fact, so that the smaller chunks of step 7 cut the file into more.
FILLER = " ".join(
    f"Paragraph {i} of the care guide says to dust the shade weekly." for i in range(30)
)
CHUNKING = {"size": 300, "overlap": 30}  # the default is 800/120
# Step 7's reasons of Reindexed, in the order a change goes through them.
REINDEX_REASONS = ["WaitingForBackup", "Reindexing", "Switched"]
# A watcher in the client pod: (script, scheme, path) -> the running Watch.
Asking = Callable[..., contextlib.AbstractContextManager[watch.Watch]]
# A change to the serving agent: (spec, done, what, timeout) patches its spec and waits for done.
Change = Callable[[dict[str, Any], Callable[[], Any], str, float], None]
# The watchers ask up to about three times a second with one key, above the default limit
# (60 a minute): the limit is raised from the start, and step 10 changes it again, which
# rolls the pod (the ConfigMap's hash is in the pod template).
RATE_LIMIT = {"requestsPerMinute": 100000, "burst": 1000, "tokensPerDay": 0}
NEW_RATE_LIMIT = {"requestsPerMinute": 90000}
SETTLE_SECONDS = 5  # chat keeps going this long after each change is done


@pytest.fixture(scope="module")
def agent(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    agent_image: images.ImageRefs,
    journey_namespace: str,
    host_operator: harness.Operator,
) -> str:
    """The RagAgent of both steps, Ready, its knowledge ingested."""
    if not steps.has_default_storage_class(cluster):
        fixtures_cluster.skip_loudly_or_fail(
            "!!! no default StorageClass: the managed database cannot bind, so steps 7 and 10 "
            "are NOT RUN !!!"
        )
    database = {"managed": {"image": agent_image.postgres}}
    body = manifests.build_ragagent(
        AGENT, image=agent_image.agent, node_name=real_node.name, database=database
    )
    body["spec"]["knowledge"] = {"sources": [{"configMap": {"name": KNOWLEDGE}}]}
    body["spec"]["backup"] = {"enabled": True, "storage": {"size": "1Gi"}}
    body["spec"]["rateLimit"] = RATE_LIMIT
    knowledge = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": KNOWLEDGE, "labels": manifests.USE_LABEL},
        "data": {"returns.md": f"# Returns\n\n{FACT}\n\n{FILLER}\n"},
    }  # fmt: skip
    ns = journey_namespace
    with steps.timed("changes: managed database + knowledge -> Ready=True"):
        steps.apply(cluster, ns, knowledge)
        steps.apply(cluster, ns, body)
        steps.wait_for_condition(
            cluster, ns, AGENT, lambda c: c["status"] == "True", timeout=420,
            explain=host_operator.log,
        )  # fmt: skip
        steps.wait_until(lambda: data.knowledge(cluster, ns, AGENT)["documents"], "the ingest")
    return AGENT


@pytest.fixture
def asking(
    cluster: controlplane.ControlPlane, journey_namespace: str, api_key: str, client: str
) -> Asking:
    """``asking(script, scheme, path)``: a watcher in the client pod against the agent's
    Service."""

    def start(
        script: str, scheme: str = "http", path: str = ""
    ) -> contextlib.AbstractContextManager[watch.Watch]:
        url = f"{scheme}://{AGENT}:{chat.APP_PORT}{path}"
        return watch.watching(
            cluster, journey_namespace, client, script=script, url=url, key=api_key,
            question=QUESTION,
        )  # fmt: skip

    return start


@pytest.fixture
def change(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    agent: str,
    host_operator: harness.Operator,
) -> Change:
    """``change(spec, done, what, timeout)``: merges ``spec`` into the agent's spec, then
    waits until ``done()`` holds; a timeout shows the operator's log."""

    def make(spec: dict[str, Any], done: Callable[[], Any], what: str, timeout: float) -> None:
        steps.patch_spec(cluster, journey_namespace, agent, spec)
        steps.wait_until(done, what, timeout=timeout, explain=host_operator.log)

    return make


def reindex_jobs(
    cluster: controlplane.ControlPlane, ns: str, index_hash: str | None = None
) -> dict[str, dict[str, Any]]:
    """The pre-reindex backup Job and the re-index Job (by their component), once made;
    only those of the index settings ``index_hash`` when given (another change made some)."""
    selector = f"{constants.LABEL_INSTANCE}={AGENT}"
    found: dict[str, dict[str, Any]] = {}
    for job in steps.get_json(cluster, ns, "jobs", "-l", selector)["items"]:
        annotations = job["metadata"].get("annotations") or {}
        made_for = annotations.get(constants.Annotation.INDEX_HASH)
        if made_for and index_hash in (None, made_for):
            found[job["metadata"]["labels"][constants.LABEL_COMPONENT]] = job
    return found


def assert_backed_up_then_switched(
    cluster: controlplane.ControlPlane, ns: str, reasons: list[str], index_hash: str | None
) -> dict[str, Any]:
    """Both Jobs of the change succeeded, the re-index only after the backup, and
    ``Reindexed`` went through its reasons in order to ``Switched``; the re-index Job."""
    jobs = reindex_jobs(cluster, ns, index_hash)
    backup, rebuild = jobs[constants.COMPONENT_BACKUP], jobs[constants.COMPONENT_REINDEX]
    assert backup["status"].get("succeeded") == 1, backup["status"]
    assert rebuild["status"].get("succeeded") == 1, rebuild["status"]
    # RFC 3339 times in UTC compare as text; the re-index began after the backup ended.
    assert backup["status"]["completionTime"] <= rebuild["metadata"]["creationTimestamp"]
    assert reasons == [r for r in REINDEX_REASONS if r in reasons], reasons
    assert reasons[-1] == "Switched", reasons
    return rebuild


def follow_reindexed(
    cluster: controlplane.ControlPlane, ns: str, agent: str, reasons: list[str]
) -> Callable[[], bool]:
    """A check that ``Reindexed`` is True for the RagAgent's latest spec, appending each
    reason it sees on the way (a condition of an earlier generation, such as the previous
    change's ``Switched``, is not yet about this change)."""

    def reindexed() -> bool:
        body = steps.get_json(cluster, ns, "ragagent", agent)
        found = steps.condition(body, "Reindexed")
        if found and found.get("observedGeneration") != body["metadata"]["generation"]:
            return False
        if found and (not reasons or reasons[-1] != found["reason"]):
            reasons.append(found["reason"])
        return bool(found and found["status"] == "True")

    return reindexed


def test_new_chunking_backs_up_then_reindexes_while_chat_answers_throughout(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    agent: str,
    asking: Asking,
    change: Change,
) -> None:
    ns = journey_namespace
    chunks_before = data.knowledge(cluster, ns, agent)["chunks"]
    reasons: list[str] = []
    reindexed = follow_reindexed(cluster, ns, agent, reasons)
    with asking(watch.REST) as rest:
        steps.wait_until(lambda: rest.count(status=200), "a first answer before the change")
        with steps.timed("new chunking -> backup Job, re-index Job, Reindexed=True"):
            change({"knowledge": {"chunking": CHUNKING}}, reindexed, "Reindexed=True", 600)
        answered = rest.count(status=200)
        steps.wait_until(lambda: rest.count(status=200) >= answered + SETTLE_SECONDS, "answers")
    rebuild = assert_backed_up_then_switched(cluster, ns, reasons, None)
    assert len(reasons) >= 2, reasons  # seen on its way, not only at the end
    status = steps.get_json(cluster, ns, "ragagent", agent)["status"]
    hash_of_rebuild = rebuild["metadata"]["annotations"][constants.Annotation.INDEX_HASH]
    assert status["indexSettingsHash"] == hash_of_rebuild, status
    # No evaluation set: the self-check passed it; the agent serves the new chunking now.
    index = status["index"]
    assert (index["served"]["hash"], index["check"]) == (hash_of_rebuild, "selfcheck"), index
    assert index["served"]["chunkSize"] == CHUNKING["size"], index
    found = data.knowledge(cluster, ns, agent)
    assert found["chunks"] == found["recorded_chunks"] > chunks_before, found
    failed = watch.failures(rest.records, "47")
    print(f"\n[e2e] step 7: {len(rest.records)} chat requests, {len(failed)} failed")
    assert not failed, json.dumps(failed, indent=1)[-4000:]


def agent_pods(cluster: controlplane.ControlPlane, ns: str) -> dict[str, bool]:
    """The agent's pods by name: Ready or not."""
    items = steps.get_json(cluster, ns, "pods", "-l", SELECTOR)["items"]
    return {pod["metadata"]["name"]: steps.is_ready(pod) for pod in items}


def test_the_deployment_lets_the_old_pod_drain_before_it_stops(
    cluster: controlplane.ControlPlane, journey_namespace: str, agent: str
) -> None:
    """preStop first (the endpoint leaves the Service meanwhile), then SIGTERM and the
    agent's drain, all inside the grace period; a new pod serves once /readyz says so."""
    deployment = steps.get_json(cluster, journey_namespace, "deployment", agent)
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop >= 1
    assert pod["terminationGracePeriodSeconds"] > pre_stop
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # The new pod is Ready before the old one leaves, whatever the replica count.
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_a_rolling_update_fails_no_request_and_cuts_no_streamed_answer(
    cluster: controlplane.ControlPlane, journey_namespace: str, asking: Asking, change: Change
) -> None:
    ns = journey_namespace
    old = set(agent_pods(cluster, ns))

    def rolled() -> bool:
        now = agent_pods(cluster, ns)
        return bool(now) and not old & set(now) and all(now.values())

    with asking(watch.REST) as rest, asking(watch.WEBSOCKET, "ws", "/v1/ws/chat") as stream:
        steps.wait_until(lambda: rest.count(status=200) and stream.count(kind="answer"), "chat")
        with steps.timed("rolling update under REST and WebSocket chat -> new pod Ready"):
            change({"rateLimit": NEW_RATE_LIMIT}, rolled, "the new pod alone", 300)
        streamed = stream.count(kind="answer")
        steps.wait_until(lambda: stream.count(kind="answer") > streamed + 2, "new answers")
    answers = [r for r in stream.records if r.get("kind") == "answer"]
    broken = [r for r in stream.records if r.get("kind") in ("cut", "failed")]
    failed = watch.failures(rest.records, "47")
    print(
        f"\n[e2e] step 10: {len(rest.records)} REST requests, {len(failed)} failed; "
        f"{len(answers)} streamed answers, {len(broken)} cut or failed, "
        f"{stream.count(kind='refused')} asked again after the drain's 1001"
    )
    assert not failed, json.dumps(failed, indent=1)[-4000:]
    assert not broken, json.dumps(broken, indent=1)[-4000:]
    assert all("47" in r["answer"] and r["citations"] for r in answers), answers[-3:]


SERVING_SQL = (
    "SELECT json_build_object('model', model, 'dimension', dimension) FROM embedding_index"
)


def test_a_new_embedding_model_backs_up_then_switches_while_chat_answers_throughout(
    cluster: controlplane.ControlPlane,
    journey_namespace: str,
    agent: str,
    agent_image: images.ImageRefs,
    asking: Asking,
    change: Change,
) -> None:
    """From the bundled MiniLM (384 dimensions) to an OpenAI-compatible embeddings API in
    the cluster (24): a generation of another dimension is built beside the serving one.
    The fake model's question vectors match nothing, so the similarity floor goes to 0 in
    the same change, as a new model's own calibration would set it."""
    ns = journey_namespace
    reasons: list[str] = []
    reindexed = follow_reindexed(cluster, ns, agent, reasons)
    wanted = {"model": fake_embeddings.build_model_spec(ns), "answers": {"minSimilarity": 0.0}}
    with fake_embeddings.serving(cluster, ns, image=agent_image.agent), asking(watch.REST) as rest:
        steps.wait_until(lambda: rest.count(status=200), "a first answer before the change")
        with steps.timed("new embedding model -> backup Job, re-index Job, Reindexed=True"):
            change(wanted, reindexed, "Reindexed=True", 900)
        answered = rest.count(status=200)
        steps.wait_until(lambda: rest.count(status=200) >= answered + SETTLE_SECONDS, "answers")
    status = steps.get_json(cluster, ns, "ragagent", agent)["status"]
    assert_backed_up_then_switched(cluster, ns, reasons, status["indexSettingsHash"])
    served = status["index"]["served"]
    assert (served["embeddingModel"], served["embeddingDimension"]) == (
        fake_embeddings.MODEL,
        fake_embeddings.DIMENSION,
    ), served
    serving = json.loads(data.psql(cluster, ns, agent, SERVING_SQL))
    assert serving == {"model": fake_embeddings.MODEL, "dimension": fake_embeddings.DIMENSION}
    failed = watch.failures(rest.records, "47")
    print(f"\n[e2e] model change: {len(rest.records)} chat requests, {len(failed)} failed")
    assert not failed, json.dumps(failed, indent=1)[-4000:]
