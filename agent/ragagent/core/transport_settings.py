"""The agent's settings for how clients reach it: the proxies it believes and /docs.

A part of ``config.Settings`` (one of its base classes). Import-light like ``config``:
the operator's image imports it without the agent's dependencies.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from ragagent.core.env_lists import CsvList


class TransportSettings(BaseSettings):
    """Forwarded headers and the interactive API docs."""

    forwarded_allow_ips: CsvList = Field(
        default_factory=list,
        description="Addresses or CIDRs of the proxies (a TLS-terminating ingress) whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed, comma-separated; empty believes "
        "nobody. A forged header from anyone else changes neither the scheme (and so HSTS) "
        "nor the client address that rate limits and logs use.",
    )
    docs_enabled: bool | None = Field(
        None,
        description="Serve Swagger UI at /docs. It loads its script and style from a CDN, "
        "so unset means on in development and off in production.",
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        # uvicorn quietly treats anything it cannot parse as a literal host name, and "*"
        # as everyone: refuse both, so a typo never trusts the wrong peers.
        for position, item in enumerate(value, start=1):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"RAGAGENT_FORWARDED_ALLOW_IPS: item {position} is not an IP address or CIDR"
                ) from None
        return value

    def serves_docs(self, *, production: bool) -> bool:
        """Whether /docs is served: as configured, else only outside production."""
        return not production if self.docs_enabled is None else self.docs_enabled
