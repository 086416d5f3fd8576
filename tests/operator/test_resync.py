"""Unit tests of the resync's peering rule and identity (no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ragagent_operator import resync

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def record(priority: int, *, seen_ago: float = 1.0, lifetime: int = 60) -> dict[str, object]:
    seen = (NOW - timedelta(seconds=seen_ago)).isoformat()
    return {"priority": priority, "lastseen": seen, "lifetime": lifetime}


def active(peers: dict[str, object], priority: int = 100) -> bool:
    return resync.is_leader(peers, identity="me", priority=priority, now=NOW)


def test_the_highest_live_replica_is_active() -> None:
    assert active({})
    assert active({"me": record(100)})
    assert active({"me": record(100), "other": record(50)})
    assert not active({"me": record(100), "other": record(150)})


def test_an_equal_priority_pauses_both_as_kopf_does() -> None:
    assert not active({"me": record(100), "other": record(100)})


def test_expired_records_do_not_count() -> None:
    assert active({"other": record(150, seen_ago=61)})
    assert not active({"other": record(150, seen_ago=59)})
    assert active({"other": record(150, seen_ago=20, lifetime=10)})


def test_a_record_without_a_valid_time_counts_as_just_seen() -> None:
    assert not active({"other": {"priority": 150}})
    assert not active({"other": {"priority": 150, "lastseen": "yesterday"}})
    assert active({"other": "not a record"})
    bare = (NOW - timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    assert not active({"other": {"priority": 150, "lastseen": bare, "lifetime": 60}})


def test_own_record_is_never_a_rival_whatever_its_priority() -> None:
    assert active({"me": record(1000)}, priority=1)


def test_identity_is_the_pod_when_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POD_ID", raising=False)
    monkeypatch.setenv("POD_NAME", "op-7d9f-abcde")
    assert resync.own_identity() == "op-7d9f-abcde"
    monkeypatch.setenv("POD_ID", "explicit")
    assert resync.own_identity() == "explicit"
    monkeypatch.delenv("POD_ID")
    monkeypatch.delenv("POD_NAME")
    first, second = resync.own_identity(), resync.own_identity()
    assert first != second  # two pod-less processes on one host never share a record
