"""The user journey on a real kubelet node (``make e2e``): pods really start, crash and
serve, so the RagAgent's conditions are held to what its pods do.

The steps run in order on one node, one namespace and one operator; each prints its wall
time. A step that needs a piece of the node not built here skips with that reason.
"""

from __future__ import annotations

from tests.e2e import manifests, steps
from tests.operator.integration import harness
from tests.support import controlplane, node

pytestmark = steps.MARKS
AGENT = "docs"
URL_SECRET = "docs-db"


def test_a_crash_looping_agent_is_not_ready_and_names_its_last_error_until_fixed(
    cluster: controlplane.ControlPlane,
    real_node: node.RealNode,
    journey_namespace: str,
    host_operator: harness.Operator,
    db_password: str,
    db_url: str,
    external_agent: manifests.ExternalAgent,
) -> None:
    """The Secret's URL names a host that does not exist (a typo the CRD cannot see): the
    agent exits at start, and Ready says which container fails and why. Fixing the Secret
    rolls the pods, and Ready turns True once the new pod serves."""
    ns = journey_namespace
    typo = manifests.build_database_url(db_password, host="postgres")
    with steps.timed("bad database URL -> Ready=False ContainerCrashLooping"):
        steps.apply(cluster, ns, manifests.build_url_secret(URL_SECRET, typo))
        steps.apply(cluster, ns, external_agent(AGENT, URL_SECRET))
        crashed = steps.wait_for_condition(
            cluster, ns, AGENT, lambda c: c["reason"] == "ContainerCrashLooping",
            explain=host_operator.log,
        )  # fmt: skip
    assert crashed["status"] == "False"
    assert "container agent" in crashed["message"]
    assert "last exit code 3 (Error)" in crashed["message"]
    # The agent's own last error, from the tail of its log.
    assert "DatabaseUnavailable: could not connect to the database" in crashed["message"]
    assert db_password not in crashed["message"]
    with steps.timed("fixed URL -> Ready=True"):
        steps.apply(cluster, ns, manifests.build_url_secret(URL_SECRET, db_url))
        ready = steps.wait_for_condition(
            cluster, ns, AGENT, lambda c: c["status"] == "True", explain=host_operator.log
        )
    assert ready["reason"] == "AgentReady"
    pods = steps.get_json(cluster, ns, "pods", "-l", "app.kubernetes.io/instance=docs")
    serving = [p for p in pods["items"] if p["spec"].get("nodeName") == real_node.name]
    assert serving, "the agent's pods ran elsewhere than on the real node"
