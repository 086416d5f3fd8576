"""A small NetworkPolicy evaluator for render tests: who may talk to whom, on which port.

It follows the networking.k8s.io/v1 semantics (see the API reference for
NetworkPolicySpec, NetworkPolicyPeer and NetworkPolicyPort):

* a pod is isolated for a direction when a policy of its namespace selects it and lists
  that direction in ``policyTypes`` (absent: Ingress, plus Egress when egress rules exist);
* an isolated pod allows a connection when any rule of any such policy allows it: one of
  its ``ports`` matches (none listed: every port) and one of its peers matches (no
  ``to``/``from``: every peer);
* a peer's ``podSelector`` alone means pods of the policy's namespace; with a
  ``namespaceSelector`` it means those pods in the selected namespaces; ``ipBlock``
  matches addresses in ``cidr`` outside every ``except``.

Named ports are not modelled: the renderers use numbers, so meeting one is an error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["Ingress", "Egress"]
METADATA_NAME = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Endpoint:
    """A pod (``namespace`` set) or an address outside the cluster (``namespace`` None)."""

    name: str
    ip: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {METADATA_NAME: self.namespace} if self.namespace else {}


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector: matchLabels and matchExpressions must all hold; {} selects all."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_holds(expr, labels) for expr in selector.get("matchExpressions") or [])


def _holds(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = expression["key"], expression["operator"]
    values = expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise ValueError(f"unknown selector operator {operator!r}")


def policy_types(spec: Mapping[str, Any]) -> list[str]:
    """The declared types, or the API server's default when absent."""
    if "policyTypes" in spec:
        return list(spec["policyTypes"])
    return ["Ingress", *(["Egress"] if "egress" in spec else [])]


def isolating(
    policies: Iterable[Mapping[str, Any]], pod: Endpoint, direction: Direction
) -> list[Any]:
    """The specs of the policies that select ``pod`` for ``direction``."""
    return [
        policy["spec"]
        for policy in policies
        if policy["metadata"]["namespace"] == pod.namespace
        and selects(policy["spec"].get("podSelector"), pod.labels)
        and direction in policy_types(policy["spec"])
    ]


def allows_egress(
    policies: Iterable[Mapping[str, Any]], src: Endpoint, dst: Endpoint, protocol: str, port: int
) -> bool:
    """Whether ``src``'s own policies let it open ``protocol``/``port`` to ``dst``."""
    return _own_policies_allow(policies, "Egress", src, dst, protocol, port)


def allows_ingress(
    policies: Iterable[Mapping[str, Any]], dst: Endpoint, src: Endpoint, protocol: str, port: int
) -> bool:
    """Whether ``dst``'s own policies let ``src`` reach it on ``protocol``/``port``."""
    return _own_policies_allow(policies, "Ingress", dst, src, protocol, port)


# A direction's rule lists, and the side of a rule that names the peer.
_RULE_KEYS: dict[Direction, tuple[str, str]] = {
    "Egress": ("egress", "to"),
    "Ingress": ("ingress", "from"),
}


def _own_policies_allow(
    policies: Iterable[Mapping[str, Any]],
    direction: Direction,
    own: Endpoint,
    peer: Endpoint,
    protocol: str,
    port: int,
) -> bool:
    """Whether the policies that isolate ``own`` for ``direction`` allow ``peer`` on the port
    (no isolating policy allows everything)."""
    specs = isolating(policies, own, direction)
    rules_key, peer_key = _RULE_KEYS[direction]
    rules = [rule for spec in specs for rule in spec.get(rules_key) or []]
    return not specs or any(
        _rule_allows(rule, peer_key, own.namespace, peer, protocol, port) for rule in rules
    )


def allows(
    policies: Iterable[Mapping[str, Any]], src: Endpoint, dst: Endpoint, protocol: str, port: int
) -> bool:
    """A connection needs the sender's egress and, inside the cluster, the receiver's ingress."""
    policies = list(policies)
    inbound = dst.namespace is None or allows_ingress(policies, dst, src, protocol, port)
    return inbound and allows_egress(policies, src, dst, protocol, port)


def _rule_allows(
    rule: Mapping[str, Any],
    peers_key: str,
    policy_namespace: str | None,
    other: Endpoint,
    protocol: str,
    port: int,
) -> bool:
    ports = rule.get("ports") or []
    if ports and not any(_port_matches(p, protocol, port) for p in ports):
        return False
    peers = rule.get(peers_key) or []
    return not peers or any(_peer_matches(p, policy_namespace, other) for p in peers)


def _port_matches(entry: Mapping[str, Any], protocol: str, port: int) -> bool:
    if entry.get("protocol", "TCP") != protocol:
        return False
    if "port" not in entry:
        return True
    if not isinstance(entry["port"], int):
        raise ValueError(f"named port {entry['port']!r} is not modelled")
    return bool(entry["port"] <= port <= entry.get("endPort", entry["port"]))


def _peer_matches(peer: Mapping[str, Any], policy_namespace: str | None, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return _in_block(peer["ipBlock"], other.ip)
    if other.namespace is None:  # selectors select pods, never outside addresses
        return False
    if "namespaceSelector" in peer:
        in_namespace = selects(peer["namespaceSelector"], other.namespace_labels)
    else:
        in_namespace = other.namespace == policy_namespace
    return in_namespace and selects(peer.get("podSelector"), other.labels)


def _in_block(block: Mapping[str, Any], ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    if address not in ipaddress.ip_network(block["cidr"]):
        return False
    return not any(address in ipaddress.ip_network(cidr) for cidr in block.get("except") or [])
