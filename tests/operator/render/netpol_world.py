"""The cluster the NetworkPolicy tests place a RagAgent in: its pods and what lies around.

RagAgent ``docs`` runs in namespace ``team``; Prometheus scrapes from ``prom``. The
endpoints around it stand for what a policy could open by mistake: a neighbour in the
same namespace, another RagAgent, an in-cluster LLM and collector, an unrelated
namespace and an address on the internet.
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import networkpolicy
from ragagent_operator.render.common import Agent, Manifest, build_agent
from tests.operator.render.netpol import Endpoint
from tests.operator.render.pods import rendered_pods

NAME = "docs"
NAMESPACE = "team"
MONITORING = "prom"

KUBE_DNS = Endpoint("kube-dns", "10.244.9.10", "kube-system", {"k8s-app": "kube-dns"})
NEIGHBOUR = Endpoint("neighbour", "10.244.1.2", NAMESPACE, {"app": "web"})
OTHER_AGENT = Endpoint(
    "other-agent",
    "10.244.1.3",
    NAMESPACE,
    {c.LABEL_NAME: c.APP_NAME, c.LABEL_INSTANCE: "other", c.LABEL_COMPONENT: c.COMPONENT_AGENT},
)
PROMETHEUS = Endpoint("prometheus", "10.244.2.2", MONITORING, {"app": "prometheus"})
LLM = Endpoint("llm", "10.244.3.2", "models", {"app": "llm"})
OTEL = Endpoint("otel", "10.244.4.2", "observability", {"app": "otel"})
STRANGER = Endpoint("stranger", "10.244.5.2", "elsewhere", {"app": "stranger"})
INTERNET = Endpoint("internet", "203.0.113.10")
AROUND = (KUBE_DNS, NEIGHBOUR, OTHER_AGENT, PROMETHEUS, LLM, OTEL, STRANGER, INTERNET)


def make_agent(**spec: Any) -> Agent:
    """RagAgent ``docs`` in ``team``; a managed database unless ``database`` is given."""
    spec.setdefault("database", {"managed": {}})
    body = {"metadata": {"name": NAME, "namespace": NAMESPACE, "uid": "u-1"}, "spec": spec}
    return build_agent(body, default_image="ragagent:test", monitoring_namespace=MONITORING)


def pods_of(agent: Agent) -> dict[str, Endpoint]:
    """Each rendered pod as an endpoint of ``team``, carrying its template's labels."""
    return {
        role: Endpoint(role, f"10.244.0.{index + 2}", NAMESPACE, template["metadata"]["labels"])
        for index, (role, template) in enumerate(rendered_pods(agent).items())
    }


def policies_of(agent: Agent) -> list[Manifest]:
    return networkpolicy.build_network_policies(agent)
