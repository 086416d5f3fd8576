"""The test NetworkPolicy evaluator follows the API's semantics, case by case."""

from __future__ import annotations

from typing import Any

import pytest

from tests.operator.render import netpol
from tests.operator.render.netpol import Endpoint

WEB = Endpoint("web", "10.0.0.1", "team", {"app": "web", "tier": "front"})
DB = Endpoint("db", "10.0.0.2", "team", {"app": "db"})
OTHER_NS = Endpoint("spy", "10.0.1.1", "other", {"app": "web"})
OUTSIDE = Endpoint("internet", "203.0.113.9")


def policy(spec: dict[str, Any], namespace: str = "team") -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": namespace}, "spec": spec}


@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        ({"key": "tier", "operator": "In", "values": ["front", "back"]}, True),
        ({"key": "tier", "operator": "In", "values": ["back"]}, False),
        ({"key": "tier", "operator": "NotIn", "values": ["back"]}, True),
        ({"key": "missing", "operator": "NotIn", "values": ["x"]}, True),
        ({"key": "tier", "operator": "Exists"}, True),
        ({"key": "tier", "operator": "DoesNotExist"}, False),
        ({"key": "missing", "operator": "DoesNotExist"}, True),
    ],
)
def test_match_expressions_follow_the_four_operators(
    expression: dict[str, Any], selected: bool
) -> None:
    assert netpol.selects({"matchExpressions": [expression]}, WEB.labels) is selected


def test_match_labels_and_expressions_must_all_hold() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]}],
    }
    assert not netpol.selects(selector, WEB.labels)
    assert netpol.selects({}, WEB.labels)


def test_an_unselected_pod_is_not_isolated() -> None:
    deny = policy({"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Egress"]})
    assert netpol.allows_egress([deny], WEB, OUTSIDE, "TCP", 443)
    assert not netpol.allows_egress([deny], DB, OUTSIDE, "TCP", 443)


def test_policy_types_default_to_ingress_plus_egress_when_rules_exist() -> None:
    assert netpol.policy_types({"podSelector": {}}) == ["Ingress"]
    assert netpol.policy_types({"podSelector": {}, "egress": []}) == ["Ingress", "Egress"]


def test_a_policy_of_another_namespace_does_not_isolate() -> None:
    deny = policy({"podSelector": {}, "policyTypes": ["Egress"]}, namespace="other")
    assert netpol.allows_egress([deny], WEB, OUTSIDE, "TCP", 443)


def test_rules_of_several_policies_add_up() -> None:
    dns = {"egress": [{"ports": [{"protocol": "UDP", "port": 53}]}]}
    https = {"egress": [{"ports": [{"port": 443}]}]}
    policies = [policy({"podSelector": {}, **dns}), policy({"podSelector": {}, **https})]
    assert netpol.allows_egress(policies, WEB, OUTSIDE, "UDP", 53)
    assert netpol.allows_egress(policies, WEB, OUTSIDE, "TCP", 443)
    assert not netpol.allows_egress(policies, WEB, OUTSIDE, "TCP", 53)


def test_ports_match_protocol_number_and_range() -> None:
    rule = {"ports": [{"port": 8000, "endPort": 8002}, {"protocol": "UDP"}]}
    policies = [policy({"podSelector": {}, "egress": [rule]})]
    assert netpol.allows_egress(policies, WEB, OUTSIDE, "TCP", 8002)
    assert not netpol.allows_egress(policies, WEB, OUTSIDE, "TCP", 8003)
    assert netpol.allows_egress(policies, WEB, OUTSIDE, "UDP", 9999)


def test_a_named_port_is_refused_rather_than_guessed() -> None:
    policies = [policy({"podSelector": {}, "egress": [{"ports": [{"port": "http"}]}]})]
    with pytest.raises(ValueError, match="named port"):
        netpol.allows_egress(policies, WEB, OUTSIDE, "TCP", 80)


def test_pod_selector_alone_means_the_policys_namespace() -> None:
    rule = {"to": [{"podSelector": {"matchLabels": {"app": "web"}}}]}
    policies = [policy({"podSelector": {"matchLabels": {"app": "db"}}, "egress": [rule]})]
    assert netpol.allows_egress(policies, DB, WEB, "TCP", 1)
    assert not netpol.allows_egress(policies, DB, OTHER_NS, "TCP", 1)
    assert not netpol.allows_egress(policies, DB, OUTSIDE, "TCP", 1)


def test_namespace_and_pod_selectors_together_must_both_match() -> None:
    other = {"namespaceSelector": {"matchLabels": {netpol.METADATA_NAME: "other"}}}
    rule = {"to": [{**other, "podSelector": {"matchLabels": {"app": "db"}}}]}
    policies = [policy({"podSelector": {"matchLabels": {"app": "web"}}, "egress": [rule]})]
    assert not netpol.allows_egress(policies, WEB, OTHER_NS, "TCP", 1)
    only_namespace = [policy({"podSelector": {}, "egress": [{"to": [other]}]})]
    assert netpol.allows_egress(only_namespace, WEB, OTHER_NS, "TCP", 1)
    assert not netpol.allows_egress(only_namespace, WEB, DB, "TCP", 1)


def test_ip_block_matches_its_cidr_outside_the_exceptions() -> None:
    block = {"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.8/29"]}}
    policies = [policy({"podSelector": {}, "egress": [{"to": [block]}]})]
    assert not netpol.allows_egress(policies, WEB, OUTSIDE, "TCP", 1)
    assert netpol.allows_egress(policies, WEB, Endpoint("x", "203.0.113.1"), "TCP", 1)
    assert not netpol.allows_egress(policies, WEB, OTHER_NS, "TCP", 1)


def test_a_connection_needs_the_senders_egress_and_the_receivers_ingress() -> None:
    open_egress = policy({"podSelector": {"matchLabels": {"app": "web"}}, "egress": [{}]})
    db_ingress = {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}
    db = policy({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [db_ingress]})
    assert netpol.allows([open_egress, db], WEB, DB, "TCP", 5432)
    assert not netpol.allows([open_egress, db], OTHER_NS, DB, "TCP", 5432)
    assert netpol.allows_ingress([db], DB, WEB, "TCP", 5432)
    assert not netpol.allows_ingress([db], DB, OTHER_NS, "TCP", 5432)
