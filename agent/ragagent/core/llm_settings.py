"""The agent's settings for its LLM providers: which answerer, the primary provider,
up to two fallbacks, and how calls to them retry, time out, break and are probed.

A part of ``config.Settings`` (one of its base classes). The primary provider is the
``openai_*`` / ``chat_model`` fields; the fallbacks are tried in order when the one
before fails before streaming a token. Each fallback is a set of flat fields (not one
JSON value) so the operator can render every one through ``settings_env.build_env``
and hand each key over by Secret reference: a key never travels inside a plain value.
Those fields are made from one table (``_FALLBACK_FIELDS``), once for each place in
``_PLACES``, so every fallback has the same fields and ``MAX_FALLBACKS`` counts them.
Import-light like ``config``: the operator's image imports it without the agent's
dependencies.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, create_model, model_validator
from pydantic_settings import BaseSettings

# The fallbacks' places, in order: how many fallback providers the settings can name (the
# CRD allows as many), and the word each one's field descriptions use.
_PLACES = ("first", "second")
MAX_FALLBACKS = len(_PLACES)
# The fields of fallback <n>, ``llm_fallback_<n>_<suffix>``: their type and description.
_FALLBACK_FIELDS: dict[str, tuple[Any, str]] = {
    "base_url": (str | None, "Base URL of the {place} fallback provider; unset means none."),
    "model": (str | None, "Chat model of the {place} fallback; unset means chat_model."),
    "api_key": (SecretStr | None, "API key of the {place} fallback; unset sends none."),
}

if TYPE_CHECKING:  # made from the table below; read through ``LLMSettings.fallback``
    _FallbackSettings = BaseSettings
else:
    _FallbackSettings = create_model(
        "_FallbackSettings",
        __base__=BaseSettings,
        **{
            f"llm_fallback_{index}_{suffix}": (
                kind,
                Field(None, description=text.format(place=place)),
            )
            for index, place in enumerate(_PLACES, start=1)
            for suffix, (kind, text) in _FALLBACK_FIELDS.items()
        },
    )


class LLMSettings(_FallbackSettings):
    """The answerer, its OpenAI-compatible providers, and how calls to them behave."""

    llm_provider: Literal["auto", "extractive", "openai"] = Field(
        "auto",
        description="auto picks openai when OPENAI_API_KEY or OPENAI_BASE_URL is set, "
        "else the offline extractive answerer.",
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("RAGAGENT_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("RAGAGENT_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    chat_model: str = Field("gpt-4o-mini", description="Chat model name for the openai provider.")
    llm_timeout_seconds: float = Field(30.0, gt=0, description="Per-request LLM timeout.")
    llm_max_retries: int = Field(3, ge=0, le=10, description="Retries on 429/5xx with backoff.")
    llm_max_tokens: int = Field(512, ge=16, description="Maximum tokens in one answer.")
    llm_retry_backoff_seconds: float = Field(
        0.5, ge=0, description="First retry delay (seconds); doubles per attempt, with jitter."
    )
    llm_breaker_failures: int = Field(
        5, ge=1, description="Consecutive failures that open a provider's circuit breaker."
    )
    llm_breaker_cooldown_seconds: float = Field(
        30.0, gt=0, description="Seconds an open breaker fails fast before one trial call."
    )

    llm_probe_interval_seconds: float = Field(
        15.0,
        gt=0,
        description="Seconds between background reachability checks of every provider; "
        "/readyz reads the last result and never waits on a provider.",
    )

    @model_validator(mode="after")
    def _fallbacks_in_order(self) -> LLMSettings:
        # A second fallback without a first, or a model or key without its URL, is a typo
        # that would silently leave the agent with fewer providers than its owner expects.
        for index in range(1, MAX_FALLBACKS + 1):
            url, model, key = self.fallback(index)
            if url is None and (model is not None or key is not None):
                raise ValueError(
                    f"RAGAGENT_LLM_FALLBACK_{index}_BASE_URL must be set when its model or "
                    "API key is"
                )
        if self.fallback(2)[0] is not None and self.fallback(1)[0] is None:
            raise ValueError("RAGAGENT_LLM_FALLBACK_2_BASE_URL needs RAGAGENT_LLM_FALLBACK_1")
        return self

    @cached_property
    def resolved_llm_provider(self) -> Literal["extractive", "openai"]:
        """The provider actually used once ``auto`` is resolved."""
        if self.llm_provider != "auto":
            return self.llm_provider
        if self.openai_api_key is not None or self.openai_base_url:
            return "openai"
        return "extractive"

    def fallback(self, index: int) -> tuple[str | None, str | None, SecretStr | None]:
        """Fallback ``index`` (1-based) as (base URL, model, key); all None when unset."""
        if not 1 <= index <= MAX_FALLBACKS:
            raise IndexError(f"there are at most {MAX_FALLBACKS} fallbacks, not {index}")
        url, model, key = (
            getattr(self, f"llm_fallback_{index}_{suffix}") for suffix in _FALLBACK_FIELDS
        )
        return url, model, key
