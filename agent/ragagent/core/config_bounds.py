"""The agent's bounds on work a caller can cause: document parsing, callers not yet
authenticated, WebSockets, chat turns at once, readiness checks and the addresses URL
sources may reach.

A part of ``config.Settings`` (one of its base classes), in a module of its own so these
limits and their reasons sit together. Import-light like ``config``: the operator's image
imports it without the agent's dependencies.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from ragagent.core.env_lists import CsvList

# Private (RFC 1918, ULA), loopback, link-local (cloud metadata at 169.254.169.254),
# carrier-grade NAT (often a cluster's pod range), "this network", benchmarking, multicast
# and reserved ranges: nothing a document URL has a reason to reach from inside a cluster.
BLOCKED_NETWORKS = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "64:ff9b::/96",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
)


class BoundsSettings(BaseSettings):
    """Work limits of ``Settings``; env names are ``RAGAGENT_<FIELD>``."""

    max_html_elements: int = Field(
        200_000,
        ge=1,
        description="Most elements in one ingested HTML document; more is refused with 413.",
    )
    # A 5 MiB page parses in about 2 s of CPU; the rest is room for a busy node.
    parse_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Seconds one document may take to parse (off the event loop); longer is "
        "refused with 422.",
    )
    max_document_pages: int = Field(
        2000,
        ge=1,
        description="Most pages in one ingested PDF; more is refused with 413.",
    )
    # A .docx or .pptx is a zip archive: its declared unpacked size is checked before anything is
    # inflated, so a small zip bomb is refused without being unpacked. A PDF's compressed
    # page streams can hide as much text, so its extracted text has the same cap.
    max_unpacked_bytes: int = Field(
        100 * 1024 * 1024,
        ge=1,
        description="Largest total unpacked size of an ingested DOCX or PPTX, and largest text "
        "extracted from one PDF (bytes); more is refused with 413.",
    )
    preauth_requests_per_minute: int = Field(
        600,
        ge=1,
        description="Requests per minute from one client address, counted before "
        "authentication (probes excepted); more is answered 429 with Retry-After.",
    )
    preauth_burst: int = Field(
        120, ge=0, description="Extra requests one client address may make in a burst."
    )
    apikey_negative_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=60,
        description="Seconds an unknown API-key prefix is answered 401 without a database "
        "read; 0 turns the cache off. A key created meanwhile (`ragagent apikey create`, "
        "another process) works at most this long after its prefix was last tried.",
    )
    apikey_negative_cache_size: int = Field(
        10_000, ge=1, description="Most unknown API-key prefixes remembered (oldest go first)."
    )
    ws_max_per_principal: int = Field(
        5,
        ge=1,
        description="Open chat WebSockets one principal may hold; one more is closed with "
        "1008 (policy violation).",
    )
    ws_idle_timeout_seconds: float = Field(
        300.0,
        gt=0,
        description="Seconds a chat WebSocket may go without a client frame while no answer "
        "streams; then it is closed with 1000.",
    )
    chat_max_concurrent_turns: int = Field(
        20,
        ge=1,
        le=10_000,
        description="Chat turns one process runs at once, over every interface; more wait in "
        "one first-come-first-served queue (core.admission). About twice db_pool_max_size: a "
        "turn holds a pooled connection only for its short transactions, never while it is "
        "answered. Raise it with a slow remote LLM, whose turns mostly wait.",
    )
    chat_admission_wait_seconds: float = Field(
        90.0,
        gt=0,
        le=3600,
        description="Seconds a chat turn may wait for a slot before it gets 503 with "
        "Retry-After (a WebSocket gets an error frame and stays open).",
    )
    readiness_cache_seconds: float = Field(
        1.0,
        ge=0,
        le=10,
        description="Seconds one readiness database check answers /readyz and /healthz; "
        "concurrent probes share one check. 0 checks on every probe.",
    )
    url_fetch_blocked_networks: CsvList = Field(
        default_factory=lambda: list(BLOCKED_NETWORKS),
        description="CIDRs URL sources (and their redirects) may not reach: private, "
        "loopback, link-local, cluster and reserved ranges by default.",
    )
    url_fetch_allowed_networks: CsvList = Field(
        default_factory=list,
        description="CIDRs exempt from url_fetch_blocked_networks (e.g. an intranet wiki, or "
        "127.0.0.0/8 in tests); empty by default.",
    )

    @field_validator("url_fetch_blocked_networks", "url_fetch_allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not a CIDR network like 10.0.0.0/8") from None
        return value
