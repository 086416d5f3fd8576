"""Where the rate-limit counters live: the setting, its refusals, and the storage it picks."""

from __future__ import annotations

import pytest
from limits.aio.storage import MemoryStorage

from ragagent.core.config import ConfigError, load_settings
from ragagent.core.ratelimit import Limiter, build_storage_url, create_storage


def test_counters_stay_in_the_process_unless_told_otherwise() -> None:
    settings = load_settings()
    assert settings.rate_limit_storage == "memory"
    assert build_storage_url(settings) == "memory://"
    assert isinstance(create_storage(build_storage_url(settings)), MemoryStorage)


def test_redis_storage_uses_its_url() -> None:
    settings = load_settings(
        rate_limit_storage="redis", rate_limit_storage_url="redis://127.0.0.1:6379"
    )
    assert build_storage_url(settings) == "redis://127.0.0.1:6379"


def test_redis_without_a_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="needs RAGAGENT_RATE_LIMIT_STORAGE_URL"):
        load_settings(rate_limit_storage="redis")


def test_a_url_the_storage_would_ignore_is_refused() -> None:
    with pytest.raises(ConfigError, match="read only with RAGAGENT_RATE_LIMIT_STORAGE=redis"):
        load_settings(rate_limit_storage="postgres", rate_limit_storage_url="redis://r:6379")


def test_an_unknown_storage_is_refused() -> None:
    with pytest.raises(ConfigError, match="rate_limit_storage"):
        load_settings(rate_limit_storage="etcd")


def test_postgres_storage_is_never_silently_replaced_by_memory() -> None:
    with pytest.raises(ValueError, match="needs a PostgresStorage"):
        Limiter.from_settings(load_settings(rate_limit_storage="postgres"))
