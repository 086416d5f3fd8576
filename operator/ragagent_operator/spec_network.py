"""``spec.networkPolicy``: who may reach the agent, and where its pods' egress goes; and
``spec.network``: the Host names the agent answers to and the proxies it believes."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from ragagent_operator import spec_base

# An IPv4 CIDR, or an IPv6 one checked loosely (the API server checks the NetworkPolicy again).
# [.] because CEL string literals have no \. escape.
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
CIDR_RE = (
    f"^({_OCTET}[.]){{3}}{_OCTET}/([0-9]|[12][0-9]|3[0-2])$"
    "|^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$"
)


class PeerSelector(spec_base.ApiModel):
    namespace_selector: spec_base.FreeForm | None = Field(
        None, description="A LabelSelector of namespaces."
    )
    pod_selector: spec_base.FreeForm | None = Field(None, description="A LabelSelector of pods.")


class IpBlock(spec_base.ApiModel):
    cidr: str = Field(
        description="Addresses allowed, e.g. 203.0.113.0/24 or 2001:db8::/64.",
        max_length=64,
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": f"self.matches('{CIDR_RE}')", "message": "ipBlock.cidr must be a CIDR"}
            ]
        },
    )
    except_: list[str] = Field(
        default_factory=list,
        alias="except",
        description="CIDRs inside cidr that stay denied.",
        json_schema_extra={
            "maxItems": 16,
            "items": {"maxLength": 64},
            "x-kubernetes-validations": [
                {
                    "rule": f"self.all(c, c.matches('{CIDR_RE}'))",
                    "message": "ipBlock.except must list CIDRs",
                }
            ],
        },
    )


class EgressPeer(PeerSelector):
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "has(self.ipBlock) != (has(self.namespaceSelector) || has(self.podSelector))",
            "a networkPolicy.endpoints peer takes an ipBlock or pod/namespace selectors, "
            "not both and not neither",
        )
    ]
    ip_block: IpBlock | None = Field(
        None,
        description="Addresses outside the cluster. Not a Service's ClusterIP: traffic to it "
        "reaches the policy already translated to a pod address.",
    )


class EndpointEgress(spec_base.ApiModel):
    to: list[EgressPeer] = Field(
        default_factory=list,
        description="NetworkPolicyPeers the endpoint's port is opened to, instead of the "
        "default; e.g. the Service's pods by namespaceSelector and podSelector, or an ipBlock.",
        json_schema_extra={"maxItems": 16},
    )
    port: int | None = Field(
        None,
        description="The port opened instead of the URL's: the pods' port (targetPort) when "
        "the URL names a Service whose port differs.",
        ge=1,
        le=65535,
    )


class Endpoints(spec_base.ApiModel):
    model: EndpointEgress | None = Field(
        None,
        description="model.baseURL (default https://api.openai.com): for the agent, and for "
        "the ingest and re-index Jobs with embeddingProvider openai.",
    )
    tracing: EndpointEgress | None = Field(
        None, description="observability.tracing.otlpEndpoint: for the agent."
    )
    jwks: EndpointEgress | None = Field(None, description="auth.jwt.jwksURL: for the agent.")
    object_storage: EndpointEgress | None = Field(
        None, description="backup.objectStorage.endpoint: for the backup and restore Jobs."
    )


class NetworkPolicySettings(spec_base.ApiModel):
    enabled: bool = Field(
        True,
        description="Create a default deny for every pod of this RagAgent, and for each "
        "component (agent, ingest, reindex, backup, restore, database) a policy opening "
        "only what it uses: DNS, the database, and the endpoints below.",
    )
    ingress_from: list[PeerSelector] = Field(
        default_factory=list,
        description="Who may reach the app port; empty means pods of this namespace only.",
        json_schema_extra={"maxItems": 32},
    )
    extra_egress: list[spec_base.FreeForm] = Field(
        default_factory=list,
        description="Extra NetworkPolicyEgressRule objects for the agent's pods, passed through.",
        json_schema_extra={"maxItems": 32},
    )
    endpoints: Endpoints | None = Field(
        None,
        description="Where egress to the HTTP endpoints goes. A NetworkPolicy cannot match "
        "host names, so by default each URL's port (the scheme's when absent) is opened: to "
        "the Service's namespace when the host is an in-cluster Service name (<svc>, in this "
        "namespace, or <svc>.<ns>.svc[.<cluster domain>]), otherwise to every address. "
        "Set 'to' to name the peers, and 'port' for a Service whose targetPort differs.",
    )


# A DNS name in lower case, optionally under one leading wildcard label ("*.example.com").
HOST_RE = r"^([*][.])?[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def _checked_list(pattern: str, message: str, *, max_items: int, max_length: int) -> Any:
    """A list field's schema extras: bounded, every item matching ``pattern`` (CEL)."""
    return {
        "maxItems": max_items,
        "items": {"maxLength": max_length},
        "x-kubernetes-validations": [
            {"rule": f"self.all(x, x.matches('{pattern}'))", "message": message}
        ],
    }


class Network(spec_base.ApiModel):
    """How clients reach the agent: the names it answers to and the proxies it believes."""

    hosts: list[str] = Field(
        default_factory=list,
        description="External host names the agent answers to, e.g. an Ingress or Gateway "
        "host ('*.example.com' matches one level of subdomains). The Service's own names "
        "(<name>, <name>.<ns>, <name>.<ns>.svc[.<cluster domain>]) and localhost (probes, "
        "port-forward) are always accepted; any other Host header gets 400.",
        json_schema_extra=_checked_list(
            HOST_RE, "network.hosts must be lower-case DNS names", max_items=32, max_length=253
        ),
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs of the TLS-terminating proxies in front of the agent (e.g. the "
        "ingress controller's pod range; one address as /32 or /128). Only connections from "
        "them may set the scheme (so HSTS is sent behind TLS) and the client address (used "
        "by rate limits and logs) with X-Forwarded-Proto and X-Forwarded-For. Empty "
        "believes nobody.",
        json_schema_extra=_checked_list(
            CIDR_RE, "network.trustedProxies must list CIDRs", max_items=16, max_length=64
        ),
    )
