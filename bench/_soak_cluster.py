"""The RagAgents of the control-plane soak (``bench.soak_controlplane``), the changes made to
them, and the checks that they converged: pure builders, and readers of one namespace.

A RagAgent's version ``v`` sets its replicas, knowledge ConfigMap and chat model, so each
change is one field that differs from before. Its children match its spec when the Deployment
has its replicas, the ConfigMap holds exactly what the operator's own renderer makes of it,
and its one ingest Job reads its knowledge ConfigMap.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import yaml

from ragagent_operator import constants as c
from ragagent_operator.render import common, configmap
from tests.support import controlplane

DATABASE_URL = "postgresql://u:p@db.soak:5432/rag?sslmode=verify-full&sslrootcert=system"
DEFAULT_IMAGE = "ragagent:test"  # the harness's RAGAGENT_OPERATOR_DEFAULT_IMAGE
KNOWLEDGE = ("faq-0", "faq-1")
# The kinds a RagAgent's children may have here (no managed database, no monitoring CRDs).
CHILD_KINDS = (
    "deployments,services,configmaps,serviceaccounts,secrets,networkpolicies,"
    "poddisruptionbudgets,horizontalpodautoscalers,jobs,cronjobs,persistentvolumeclaims"
)
Manifest = dict[str, Any]


def build_spec(version: int) -> Manifest:
    return {
        "database": {"external": {"secretRef": {"name": "pg", "key": "url"}}},
        "secrets": {"provider": "kubernetes"},
        "replicas": 1 + version % 3,
        "knowledge": {"sources": [{"configMap": {"name": KNOWLEDGE[version % 2]}}]},
        "model": {"chatModel": f"model-{version}"},
    }


def agent_yaml(name: str, version: int) -> str:
    body = {"apiVersion": c.API_VERSION, "kind": c.KIND, "metadata": {"name": name},
            "spec": build_spec(version)}  # fmt: skip
    return yaml.safe_dump(body)


def build_inputs() -> list[Manifest]:
    """The database Secret and the knowledge ConfigMaps, labelled for RagAgent use."""
    labels = {"ragagent.dev/use": "true"}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pg", "labels": labels},
              "stringData": {"url": DATABASE_URL}}  # fmt: skip
    maps = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
         "data": {"faq.md": f"# {name}\n\nAnswers of {name}."}}
        for name in KNOWLEDGE
    ]  # fmt: skip
    return [secret, *maps]


def build_change(name: str, turn: int) -> tuple[list[str], str | None]:
    """The ``turn``-th change of RagAgent ``name`` as kubectl arguments and stdin: replicas,
    knowledge, chat model, delete, create again, in that order."""
    version = turn // 5 + 1
    spec = build_spec(version)
    patches = [
        {"replicas": spec["replicas"]},
        {"knowledge": spec["knowledge"]},
        {"model": spec["model"]},
    ]
    step = turn % 5
    if step < len(patches):
        patch = json.dumps({"spec": patches[step]})
        return ["patch", "ragagent", name, "--type=merge", "-p", patch], None
    if step == len(patches):
        return ["delete", "ragagent", name, "--wait=false", "--ignore-not-found"], None
    return ["apply", "-f", "-"], agent_yaml(name, version)


def read_items(plane: controlplane.ControlPlane, namespace: str, kinds: str) -> list[Manifest]:
    result = plane.kubectl("get", kinds, "-n", namespace, "-o", "json", check=False)
    return list(json.loads(result.stdout)["items"]) if result.returncode == 0 else []


def owner_uid(item: Manifest) -> str | None:
    """The uid of the RagAgent that controls ``item``; None for anything else's."""
    for owner in item["metadata"].get("ownerReferences") or []:
        if owner.get("kind") == c.KIND and owner.get("controller"):
            return str(owner["uid"])
    return None


def problems(plane: controlplane.ControlPlane, namespace: str) -> list[str]:
    """What keeps the namespace from having converged; empty when it has."""
    agents = read_items(plane, namespace, "ragagents")
    children = [item for item in read_items(plane, namespace, CHILD_KINDS) if owner_uid(item)]
    if not agents:
        return ["no RagAgents could be read"]
    found = [issue for agent in agents for issue in agent_problems(agent, children)]
    live = {agent["metadata"]["uid"] for agent in agents}
    found += [f"{describe(item)} outlived its RagAgent" for item in children
              if owner_uid(item) not in live]  # fmt: skip
    return found


def agent_problems(agent: Manifest, children: list[Manifest]) -> list[str]:
    meta, status = agent["metadata"], agent.get("status") or {}
    name = meta["name"]
    if status.get("observedGeneration") != meta["generation"]:
        return [f"{name}: generation {meta['generation']} not observed yet"]
    reconciled = condition(status, "Reconciled")
    if reconciled.get("status") != "True":
        return [f"{name}: Reconciled={reconciled.get('status')} {reconciled.get('message', '')}"]
    own = {(item["kind"], item["metadata"]["name"]): item for item in children
           if owner_uid(item) == meta["uid"]}  # fmt: skip
    return child_problems(agent, own)


def child_problems(agent: Manifest, own: dict[tuple[str, str], Manifest]) -> list[str]:
    """How the RagAgent's children differ from what its spec asks for."""
    name, spec = agent["metadata"]["name"], agent["spec"]
    rendered = configmap.build_config_map(common.build_agent(agent, default_image=DEFAULT_IMAGE))
    found = []
    deployment = own.get(("Deployment", name))
    if deployment is None or deployment["spec"].get("replicas") != spec.get("replicas", 1):
        found.append(f"{name}: Deployment missing or not at {spec.get('replicas', 1)} replicas")
    config = own.get(("ConfigMap", rendered["metadata"]["name"]))
    if config is None or config.get("data") != rendered["data"]:
        found.append(f"{name}: ConfigMap missing or not as its spec renders")
    wanted = {source["configMap"]["name"] for source in spec["knowledge"]["sources"]}
    ingest = [item for (kind, _), item in own.items() if kind == "Job" and
              item["metadata"]["labels"].get(c.LABEL_COMPONENT) == c.COMPONENT_INGEST]  # fmt: skip
    if [read_config_maps(job) for job in ingest] != [wanted]:
        found.append(f"{name}: ingest Jobs {[read_config_maps(job) for job in ingest]}")
    return found


def read_config_maps(job: Manifest) -> set[str]:
    volumes = job["spec"]["template"]["spec"].get("volumes") or []
    return {volume["configMap"]["name"] for volume in volumes if "configMap" in volume}


def condition(status: Manifest, kind: str) -> Manifest:
    return next((cond for cond in status.get("conditions") or [] if cond["type"] == kind), {})


def describe(item: Manifest) -> str:
    return f"{item['kind']} {item['metadata']['name']}"


def duplicates(plane: controlplane.ControlPlane, namespace: str) -> list[str]:
    """Children that share one RagAgent, kind and role (component label): an operator that
    made a child twice under two names. NetworkPolicies are one per peer by design, so their
    names are their roles."""
    roles: Counter[tuple[str, str, str]] = Counter()
    for item in read_items(plane, namespace, CHILD_KINDS):
        uid = owner_uid(item)
        if uid is None:
            continue
        labels = item["metadata"].get("labels") or {}
        role = labels.get(c.LABEL_COMPONENT, "")
        if item["kind"] in {"NetworkPolicy", "Secret", "ConfigMap", "Service"}:
            role = item["metadata"]["name"]
        roles[(uid, item["kind"], role)] += 1
    return [f"{count} {kind}s of role {role!r} for one RagAgent ({uid})"
            for (uid, kind, role), count in roles.items() if count > 1]  # fmt: skip
