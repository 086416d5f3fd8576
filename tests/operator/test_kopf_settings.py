"""The kopf settings the operator starts with (``main.configure``)."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf
import pytest

from ragagent_operator import config, main


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> kopf.OperatorSettings:
    monkeypatch.setattr(main, "SETTINGS", config.OperatorSettings(metrics_port=0))
    configured = kopf.OperatorSettings()
    startup: Any = main.configure  # kopf's decorator types it as a handler taking every kwarg
    asyncio.run(startup(settings=configured))
    return configured


def pauses(settings: kopf.OperatorSettings) -> list[float]:
    """The pauses between retries; kopf also takes one number, which would repeat forever."""
    backoffs = settings.networking.error_backoffs
    assert not isinstance(backoffs, int | float)
    return list(backoffs)


def test_a_failed_api_request_is_retried_within_2_s_so_watches_follow_an_outage_at_once(
    settings: kopf.OperatorSettings,
) -> None:
    # kopf's default pauses grow to 21 s: a watch could sleep that long after the API server
    # or etcd came back, and the RagAgent changes made meanwhile wait as long.
    assert max(pauses(settings)) <= 2.0


def test_kopf_keeps_retrying_for_10_minutes_so_an_outage_never_ends_the_keepalives(
    settings: kopf.OperatorSettings,
) -> None:
    assert sum(pauses(settings)) >= 600
