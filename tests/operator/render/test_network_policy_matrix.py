"""Over a matrix of specs, every rendered pod may reach exactly what its command needs.

For each spec, each pod the operator renders is probed against every endpoint of
``netpol_world`` (and every other rendered pod) on every port that matters, in both
directions, and the allowed set must equal the expected one. The expectation is
written here from what each command does, not read from the renderer:

* every pod but PostgreSQL resolves names (UDP and TCP 53 to the cluster's pods) and
  talks to the database (the managed PostgreSQL pod, or port 5432 anywhere);
* the agent calls the chat model (provider openai) and embeddings (embeddingProvider
  openai), the JWKS URL (auth jwt) and the OTLP collector (tracing on); ingest and
  re-index call embeddings; ingest fetches its https sources;
* the agent accepts the app port from its namespace and metrics from Prometheus's;
  PostgreSQL accepts 5432 from exactly the pods that use it; nothing else accepts
  anything.

PostgreSQL itself needs no network: it answers but never opens a connection, so it
gets no egress at all (not even DNS).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.operator.render import netpol
from tests.operator.render.netpol import Endpoint
from tests.operator.render.netpol_world import (
    AROUND,
    LLM,
    MONITORING,
    NAMESPACE,
    OTEL,
    make_agent,
    pods_of,
    policies_of,
)

LLM_URL = "http://llm.models.svc.cluster.local:8080/v1"
OTLP_URL = "http://otel.observability.svc:4318"
JWKS_URL = "https://login.example.com/.well-known/jwks.json"
SOURCE_URL = "https://docs.example.com/handbook.md"
PORTS = [("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 443), ("TCP", 80)]
PORTS += [("TCP", 8000), ("TCP", 9090), ("TCP", 8080), ("TCP", 4318), ("TCP", 6379)]
DATABASE_USERS = {"agent", "ingest", "reindex", "backup", "pre-reindex-backup", "restore"}
EMBEDDING_USERS = {"agent", "ingest", "reindex"}

Probe = tuple[str, str, int]  # (endpoint name, protocol, port)
Reach = Callable[[Endpoint], bool]
Wanted = list[tuple[Reach, str, int]]  # (where, protocol, port)


@dataclass(frozen=True)
class Case:
    provider: str
    embedding: str
    llm_in_cluster: bool
    auth: str
    managed_db: bool
    backups: bool
    tracing: bool

    @property
    def calls_openai(self) -> bool:
        return "openai" in (self.provider, self.embedding)

    def spec(self) -> dict[str, Any]:
        sources = [{"configMap": {"name": "faq"}}, {"url": SOURCE_URL}]
        spec: dict[str, Any] = {
            "model": self._model(),
            "auth": self._auth(),
            "database": {"managed": {}} if self.managed_db else self._external(),
            "knowledge": {"sources": sources},
            "backup": {"enabled": self.backups},
            "networkPolicy": {"enabled": True},
        }
        if self.backups:
            spec["restore"] = {"from": "20250310T020000.123Z-1a2b3c4d"}
        if self.tracing:
            spec["observability"] = {"tracing": {"otlpEndpoint": OTLP_URL}}
        return spec

    def _model(self) -> dict[str, Any]:
        model: dict[str, Any] = {"provider": self.provider, "embeddingProvider": self.embedding}
        if self.calls_openai:
            model["apiKey"] = {"sealed": {"encryptedValue": "x"}}
        if self.calls_openai and self.llm_in_cluster:
            model["baseURL"] = LLM_URL
        return model

    def _auth(self) -> dict[str, Any]:
        if self.auth == "jwt":
            jwt = {"issuer": "https://login.example.com", "audience": "docs", "jwksURL": JWKS_URL}
            return {"mode": "jwt", "jwt": jwt}
        if self.auth == "none":
            return {"mode": "none", "allowUnauthenticated": True}
        return {"mode": "apiKey"}

    @staticmethod
    def _external() -> dict[str, Any]:
        return {"external": {"secretRef": {"name": "db", "key": "url"}}}

    def __str__(self) -> str:
        where = "-incluster" if self.calls_openai and self.llm_in_cluster else ""
        return (
            f"{self.provider}-{self.embedding}{where}-{self.auth}"
            f"-{'managed' if self.managed_db else 'external'}"
            f"{'-backups' if self.backups else ''}{'-tracing' if self.tracing else ''}"
        )


def build_cases() -> Iterator[Case]:
    """Every combination; the LLM's location varies only where something calls it."""
    for combo in itertools.product(
        ["extractive", "openai"],
        ["local", "openai"],
        [False, True],
        ["apiKey", "jwt", "none"],
        [True, False],
        [False, True],
        [False, True],
    ):
        case = Case(*combo)
        if case.llm_in_cluster and not case.calls_openai:
            continue
        yield case


CASES = list(build_cases())


def anywhere(_: Endpoint) -> bool:
    return True


def in_cluster(there: Endpoint) -> bool:
    return there.namespace is not None


def in_namespace(namespace: str) -> Reach:
    return lambda there: there.namespace == namespace


def is_endpoint(name: str) -> Reach:
    return lambda there: there.name == name


def expected_egress(case: Case, role: str) -> Wanted:
    """(where, protocol, port) the command of ``role`` connects to."""
    if role == "database":
        return []
    wanted: Wanted = [(in_cluster, "UDP", 53), (in_cluster, "TCP", 53)]
    wanted.append((is_endpoint("database") if case.managed_db else anywhere, "TCP", 5432))
    chat = role == "agent" and case.provider == "openai"
    embeds = role in EMBEDDING_USERS and case.embedding == "openai"
    if chat or embeds:
        if case.llm_in_cluster:
            wanted.append((in_namespace(LLM.namespace or ""), "TCP", 8080))
        else:
            wanted.append((anywhere, "TCP", 443))
    if role == "agent" and case.auth == "jwt":
        wanted.append((anywhere, "TCP", 443))
    if role == "agent" and case.tracing:
        wanted.append((in_namespace(OTEL.namespace or ""), "TCP", 4318))
    if role == "ingest":
        wanted.append((anywhere, "TCP", 443))
    return wanted


def expected_ingress(case: Case, role: str) -> Wanted:
    """(from where, protocol, port) the pod of ``role`` accepts."""
    if role == "agent":
        return [(in_namespace(NAMESPACE), "TCP", 8000), (in_namespace(MONITORING), "TCP", 9090)]
    if role == "database":
        users = [is_endpoint(user) for user in DATABASE_USERS]
        return [(lambda there: any(user(there) for user in users), "TCP", 5432)]
    return []


def expand(wanted: Wanted, others: list[Endpoint]) -> set[Probe]:
    return {
        (there.name, protocol, port)
        for there in others
        for reach, protocol, port in wanted
        if reach(there)
    }


def probes(others: list[Endpoint]) -> Iterator[tuple[Endpoint, str, int]]:
    for there in others:
        for protocol, port in PORTS:
            yield there, protocol, port


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_pod_reaches_exactly_what_its_command_needs(case: Case) -> None:
    agent = make_agent(**case.spec())
    pods, policies = pods_of(agent), policies_of(agent)
    everyone = [*pods.values(), *AROUND]
    for role, pod in pods.items():
        others = [there for there in everyone if there is not pod]
        egress = {
            (there.name, protocol, port)
            for there, protocol, port in probes(others)
            if netpol.allows_egress(policies, pod, there, protocol, port)
        }
        assert egress == expand(expected_egress(case, role), others), role
        ingress = {
            (there.name, protocol, port)
            for there, protocol, port in probes([o for o in others if in_cluster(o)])
            if netpol.allows_ingress(policies, pod, there, protocol, port)
        }
        assert ingress == expand(expected_ingress(case, role), others), role


@pytest.mark.parametrize("case", CASES[:: len(CASES) // 8], ids=str)
def test_every_pod_is_isolated_and_every_database_user_connects(case: Case) -> None:
    agent = make_agent(**case.spec())
    pods, policies = pods_of(agent), policies_of(agent)
    for role, pod in pods.items():
        assert netpol.isolating(policies, pod, "Egress"), role
        assert netpol.isolating(policies, pod, "Ingress"), role
    if case.managed_db:
        for role in DATABASE_USERS & set(pods):
            assert netpol.allows(policies, pods[role], pods["database"], "TCP", 5432), role


def test_the_matrix_covers_every_pod_role() -> None:
    roles = {role for case in CASES for role in pods_of(make_agent(**case.spec()))}
    assert roles == DATABASE_USERS | {"database"}
    assert len(CASES) == 168
