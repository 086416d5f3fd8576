"""Fixtures for the hardening tests, on top of the shared embedded PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db_url(pg_url: str) -> str:
    """An empty database private to one test (from tests.support.fixtures_pg)."""
    return pg_url


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "data")
