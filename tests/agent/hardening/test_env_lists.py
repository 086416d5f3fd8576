"""Every list setting, the agent's and the operator's, is one comma-separated variable."""

from __future__ import annotations

import typing

import pytest
from pydantic_settings import BaseSettings

from ragagent.core.config import Settings
from ragagent_operator.config import OperatorSettings

# Per list field: what the variable says, and the list it must give (spaces and empty
# items dropped).
WRITTEN: dict[tuple[type[BaseSettings], str], tuple[str, list[str]]] = {
    (Settings, "forwarded_allow_ips"): ("10.0.0.1, 10.1.0.0/16,", ["10.0.0.1", "10.1.0.0/16"]),
    (Settings, "url_fetch_blocked_networks"): ("10.0.0.0/8,,fc00::/7", ["10.0.0.0/8", "fc00::/7"]),
    (Settings, "url_fetch_allowed_networks"): (" 127.0.0.0/8 ", ["127.0.0.0/8"]),
    (Settings, "cors_allowed_origins"): (
        "https://a.test,https://b.test",
        ["https://a.test", "https://b.test"],
    ),
    (Settings, "trusted_hosts"): ("agent.ns.svc, localhost", ["agent.ns.svc", "localhost"]),
    (Settings, "rate_limit_scopes"): ("chat=30/5, ingest=10/0", ["chat=30/5", "ingest=10/0"]),
    (Settings, "budget_prices"): ("gpt-a=0.15/0.6, b=1/2", ["gpt-a=0.15/0.6", "b=1/2"]),
    (OperatorSettings, "namespaces"): ("team-a, team-b,", ["team-a", "team-b"]),
}


def _list_fields(cls: type[BaseSettings]) -> set[tuple[type[BaseSettings], str]]:
    return {
        (cls, name)
        for name, field in cls.model_fields.items()
        if typing.get_origin(field.annotation) is list
    }


def test_every_list_setting_is_covered_here() -> None:
    # A new list setting must read the comma-separated form too: add it above.
    assert _list_fields(Settings) | _list_fields(OperatorSettings) == set(WRITTEN)


@pytest.mark.parametrize(("cls", "name"), list(WRITTEN), ids=[name for _, name in WRITTEN])
def test_a_list_setting_reads_one_comma_separated_variable(
    cls: type[BaseSettings], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = str(cls.model_config.get("env_prefix", ""))
    written, wanted = WRITTEN[(cls, name)]
    monkeypatch.setenv(f"{prefix}{name.upper()}", written)
    assert getattr(cls(), name) == wanted
