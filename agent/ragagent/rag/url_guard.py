"""Which addresses a URL source may reach: not the cluster's own networks.

A document URL (and every redirect it takes) is refused when its host resolves to an
address in a blocked network (private, loopback, link-local such as the cloud metadata
service at 169.254.169.254, cluster and reserved ranges, by default) unless an allowed
network covers it. The connected peer is checked again once connected, so a name that
resolves differently the second time (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from ragagent.core import errors
from ragagent.core.config_bounds import BLOCKED_NETWORKS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = ("http", "https")
BLOCKED_HINT = "blocked network (RAGAGENT_URL_FETCH_BLOCKED_NETWORKS)"


def _networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


@dataclass(frozen=True)
class AddressPolicy:
    """Blocked networks, and the allowed ones that override them."""

    blocked: tuple[Network, ...] = _networks(BLOCKED_NETWORKS)
    allowed: tuple[Network, ...] = ()

    @classmethod
    def of(cls, *, blocked: Iterable[str], allowed: Iterable[str]) -> AddressPolicy:
        return cls(blocked=_networks(blocked), allowed=_networks(allowed))

    def is_allowed(self, address: str) -> bool:
        """Whether ``address`` (an IP literal; an IPv4-mapped IPv6 counts as IPv4) is allowed."""
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.allowed):
            return True
        return not any(ip in network for network in self.blocked)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to; a literal IP resolves to itself."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise errors.BadRequest(f"could not fetch: cannot resolve {host!r}") from None
    return sorted({str(info[4][0]) for info in infos})


def check_url(url: httpx.URL, policy: AddressPolicy) -> None:
    """Refuse (400) a URL of another scheme, or whose host resolves into a blocked network."""
    if url.scheme not in SCHEMES:
        raise errors.BadRequest(f"refused to fetch {url}: only http and https URLs are allowed")
    port = url.port or (443 if url.scheme == "https" else 80)
    for address in resolve(url.host, port):
        if not policy.is_allowed(address):
            raise errors.BadRequest(
                f"refused to fetch {url}: {url.host} is {address}, in a {BLOCKED_HINT}"
            )


def check_peer(reply: httpx.Response, policy: AddressPolicy) -> None:
    """Refuse (400) a response from a blocked address, whatever the name resolved to before."""
    stream = reply.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not policy.is_allowed(str(peer[0])):
        raise errors.BadRequest(
            f"refused to fetch {reply.url}: connected to {peer[0]}, in a {BLOCKED_HINT}"
        )
