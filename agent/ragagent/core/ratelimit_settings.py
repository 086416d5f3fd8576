"""The agent's settings for rate limits and the daily token budget, and where they count.

A part of ``config.Settings`` (one of its base classes). Import-light like ``config``:
the operator's image imports it without the agent's dependencies.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode

from ragagent.core.env_lists import split_csv

ScopeLimitList = Annotated[
    list[Annotated[str, Field(pattern=r"^(chat|ingest|admin)=[1-9]\d*(/\d+)?$")]],
    NoDecode,
    BeforeValidator(split_csv),
]
RateLimitStorage = Literal["memory", "postgres", "redis"]


class RateLimitSettings(BaseSettings):
    """Requests per identity per scope, LLM tokens per identity per day, and their storage."""

    rate_limit_requests_per_minute: int = Field(60, ge=1, description="Per identity.")
    rate_limit_burst: int = Field(20, ge=0, description="Extra requests allowed in a burst.")
    rate_limit_tokens_per_day: int = Field(
        200_000,
        ge=0,
        description="LLM tokens per identity per UTC day (services.budget); 0 means no limit.",
    )
    rate_limit_storage: RateLimitStorage = Field(
        "memory",
        description="Where the counters live. memory: in this process, so N replicas allow N "
        "times the limit and a restart resets it (one process, `make run`); postgres: in the "
        "agent's own database, shared by every replica and kept across restarts (the "
        "operator's choice for more than one possible replica); redis: the server at "
        "RAGAGENT_RATE_LIMIT_STORAGE_URL.",
    )
    rate_limit_storage_url: str | None = Field(
        None, description="redis://host:port, read only with RAGAGENT_RATE_LIMIT_STORAGE=redis."
    )
    rate_limit_scopes: ScopeLimitList = Field(
        default_factory=list,
        description="Per-scope overrides: 'chat=30/5,ingest=10/0' (requests per minute/burst).",
    )

    @model_validator(mode="after")
    def _storage_url_matches(self) -> RateLimitSettings:
        # A URL the chosen storage ignores would leave the limits per process while the
        # operator of the agent believes them shared: refuse it rather than guess.
        if self.rate_limit_storage == "redis" and not self.rate_limit_storage_url:
            raise ValueError(
                "RAGAGENT_RATE_LIMIT_STORAGE=redis needs RAGAGENT_RATE_LIMIT_STORAGE_URL"
            )
        if self.rate_limit_storage != "redis" and self.rate_limit_storage_url:
            raise ValueError(
                "RAGAGENT_RATE_LIMIT_STORAGE_URL is read only with "
                f"RAGAGENT_RATE_LIMIT_STORAGE=redis (it is {self.rate_limit_storage})"
            )
        return self
