"""The agent's database TLS waiver as the operator renders it into every pod's settings, and
the TLS problem of an external database URL that the operator reports."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ragagent.core import settings_env
from ragagent_operator.render import configmap
from ragagent_operator.render.common import Agent, build_agent
from ragagent_operator.steps import secrets

WAIVER = settings_env.env_name("database_tls_waived")


def make_agent(database: dict[str, Any]) -> Agent:
    metadata = {"name": "docs", "namespace": "team", "uid": "u-1"}
    body = {"metadata": metadata, "spec": {"database": database}}
    return build_agent(body, default_image="ragagent:test", monitoring_namespace="prom")


def external(**fields: Any) -> dict[str, Any]:
    return {"external": {"secretRef": {"name": "db", "key": "url"}, **fields}}


def test_an_external_database_must_verify_by_default() -> None:
    data = configmap.build_config_map(make_agent(external()))["data"]
    assert WAIVER not in data
    assert data[settings_env.env_name("environment")] == "production"


def test_tls_waived_reaches_every_pod_of_an_external_database() -> None:
    data = configmap.build_config_map(make_agent(external(tlsWaived=True)))["data"]
    assert data[WAIVER] == "true"


def test_the_managed_database_is_verified_not_waived() -> None:
    """Its pods reach it with verify-full through its TLS front (test_render_postgres_tls)."""
    data = configmap.build_config_map(make_agent({"managed": {}}))["data"]
    assert WAIVER not in data


@pytest.mark.parametrize("value", [False, None])
def test_tls_waived_false_or_absent_renders_nothing(value: bool | None) -> None:
    fields = {} if value is None else {"tlsWaived": value}
    assert WAIVER not in configmap.build_config_map(make_agent(external(**fields)))["data"]


def secret_data(url: str) -> dict[str, object]:
    return {"db": {"url": base64.b64encode(url.encode()).decode()}}


def test_an_external_url_without_verify_full_is_a_problem_that_names_the_secret() -> None:
    url = "postgresql://u:hunter2@db.example/rag?sslmode=require"
    problem = secrets.build_database_tls_problem(make_agent(external()), secret_data(url))
    assert problem is not None
    assert problem.startswith("Secret db key url: DATABASE_URL must require sslmode=verify-full")
    assert "must name the CA" in problem
    assert problem.endswith("or set spec.database.external.tlsWaived: true")
    assert "hunter2" not in problem


def test_a_ca_path_is_not_checked_on_the_operators_disk() -> None:
    url = "postgresql://db.example/rag?sslmode=verify-full&sslrootcert=/etc/ragagent/ca.crt"
    assert secrets.build_database_tls_problem(make_agent(external()), secret_data(url)) is None


@pytest.mark.parametrize(
    ("database", "data"),
    [
        (external(tlsWaived=True), secret_data("postgresql://db.example/rag")),
        ({"managed": {}}, {}),
        (external(), {}),  # the missing Secret is DatabaseSecretMissing's to report
        (external(), {"db": {}}),
    ],
)
def test_no_tls_problem_is_reported_when_waived_managed_or_absent(
    database: dict[str, Any], data: dict[str, object]
) -> None:
    assert secrets.build_database_tls_problem(make_agent(database), data) is None
