"""Answerers: the OpenAI-compatible provider and the offline extractive one.

``fallback.create_llm`` picks them from Settings. The OpenAI provider talks to any
OpenAI-compatible base URL through the official SDK, streams, and is resilient
in a bounded way: 429/5xx/timeouts are retried with jittered exponential
backoff, but only while nothing has been streamed yet (a retry after the first
token would repeat text the user already saw); a circuit breaker fails fast
(``errors.LLMUnavailable``) while the provider is down, so ``fallback`` moves the
turn on to the next provider without waiting.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import openai
from openai.types.chat import ChatCompletionChunk

from ragagent.core import errors, models, telemetry
from ragagent.core.config import Settings
from ragagent.core.llm_settings import MAX_FALLBACKS
from ragagent.core.metrics import LLM_ERRORS
from ragagent.rag.breaker import CircuitBreaker
from ragagent.rag.extractive import ExtractiveLLM
from ragagent.rag.prompts import Message, build_messages, estimate_prompt_tokens, estimate_tokens
from ragagent.rag.types import AnswerDelta, Completion, RetrievedChunk, Usage

__all__ = ["ExtractiveLLM", "OpenAIChatLLM", "ProviderSpec", "build_provider_specs"]

MAX_BACKOFF_SECONDS = 8.0
PROBE_TIMEOUT_SECONDS = 2.0
UNAVAILABLE = "The language model provider is not answering; please try again shortly."


@dataclass(frozen=True, kw_only=True)
class ProviderSpec:
    """One OpenAI-compatible endpoint: where it is, which model, and its key."""

    name: str  # "primary", "fallback_1", ...: a bounded label for logs and metrics
    base_url: str | None
    model: str
    api_key: str | None = field(default=None, repr=False)


def build_provider_specs(settings: Settings) -> list[ProviderSpec]:
    """The providers in the order a turn tries them; empty for the offline answerer."""
    if settings.resolved_llm_provider != "openai":
        return []
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    specs = [
        ProviderSpec(
            name="primary",
            base_url=settings.openai_base_url,
            model=settings.chat_model,
            api_key=key,
        )
    ]
    for index in range(1, MAX_FALLBACKS + 1):
        url, model, secret = settings.fallback(index)
        if url is not None:
            specs.append(
                ProviderSpec(
                    name=f"fallback_{index}",
                    base_url=url,
                    model=model or settings.chat_model,
                    api_key=secret.get_secret_value() if secret else None,
                )
            )
    return specs


def error_kind(exc: openai.APIError) -> str:
    """A bounded label for LLM_ERRORS: timeout, rate_limited, server or other."""
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.InternalServerError | openai.APIConnectionError):
        return "server"
    return "other"


def is_retryable(exc: openai.APIError) -> bool:
    """Timeouts, connection failures, 408, 409, 429 and 5xx are worth another try."""
    if isinstance(exc, openai.APIConnectionError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def backoff_delay(attempt: int, base: float, jitter: float) -> float:
    """Exponential delay for retry ``attempt`` (0-based); ``jitter`` in [0, 1) spreads clients."""
    return min(MAX_BACKOFF_SECONDS, base * 2.0**attempt) * (0.5 + jitter / 2)


@dataclass(frozen=True, kw_only=True)
class OpenAIChatLLM:
    """Streams chat completions from an OpenAI-compatible server via ``AsyncOpenAI``."""

    provider: ClassVar[str] = "openai"

    client: openai.AsyncOpenAI
    model: str
    settings: Settings
    breaker: CircuitBreaker

    @classmethod
    def from_settings(cls, settings: Settings, spec: ProviderSpec | None = None) -> OpenAIChatLLM:
        """The provider ``spec`` names (the primary one unless given), with its own breaker."""
        spec = spec or build_provider_specs(settings)[0]
        client = openai.AsyncOpenAI(
            # Local OpenAI-compatible servers often need no key, but the SDK insists on one.
            api_key=spec.api_key or "unused",
            base_url=spec.base_url,
            timeout=settings.llm_timeout_seconds,
            max_retries=0,  # We retry ourselves, so retries stop once streaming has begun.
        )
        breaker = CircuitBreaker(
            failure_threshold=settings.llm_breaker_failures,
            cooldown_seconds=settings.llm_breaker_cooldown_seconds,
        )
        return cls(client=client, model=spec.model, settings=settings, breaker=breaker)

    async def is_reachable(self) -> bool:
        """Whether the endpoint answers HTTP at all: any status below 500 counts (many
        OpenAI-compatible servers have no /models), a refused connection, a timeout or a
        5xx does not. No completion is requested, so the probe costs no tokens."""
        try:
            await self.client.models.list(timeout=PROBE_TIMEOUT_SECONDS)
        except openai.APIStatusError as exc:
            return exc.status_code < 500
        except openai.APIError:
            return False
        return True

    async def aclose(self) -> None:
        await self.client.close()

    async def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, timeout_seconds: float
    ) -> Completion | None:
        """One unstreamed completion, without retries: None unless the breaker is closed,
        or when the call fails. A side task leaves the breaker alone: it never takes a
        half-open breaker's one trial call, and its short timeout says little about
        whether the provider can answer."""
        if self.breaker.state != "closed":
            return None
        params: Any = [dict(message) for message in messages]
        try:
            response = await self.client.chat.completions.create(
                model=self.model,
                messages=params,
                max_tokens=max_tokens,
                temperature=0,
                timeout=timeout_seconds,
                extra_headers=telemetry.trace_headers(),
            )
        except openai.APIError as exc:
            LLM_ERRORS.labels(self.provider, error_kind(exc)).inc()
            return None
        text = (response.choices[0].message.content or "") if response.choices else ""
        if response.usage is None:
            usage = Usage(estimate_prompt_tokens(params), estimate_tokens(text))
        else:
            usage = Usage(response.usage.prompt_tokens, response.usage.completion_tokens)
        return Completion(text, usage)

    async def stream(
        self, *, question: str, history: Sequence[models.ChatTurn], chunks: Sequence[RetrievedChunk]
    ) -> AsyncIterator[AnswerDelta]:
        if not self.breaker.allow():
            LLM_ERRORS.labels(self.provider, "circuit_open").inc()
            raise errors.LLMUnavailable(UNAVAILABLE, retry_after=self.breaker.retry_after())
        messages = build_messages(
            question=question,
            history=history,
            chunks=chunks,
            history_budget=self.settings.history_token_budget,
            max_turns=self.settings.history_max_turns,
        )
        stream = await self._open(messages)
        try:
            async for delta in self._deltas(stream, messages):
                yield delta
        except openai.APIError as exc:
            raise self._failed(exc) from exc
        finally:
            await stream.close()
        self.breaker.record_success()

    async def _open(self, messages: list[Message]) -> openai.AsyncStream[ChatCompletionChunk]:
        """Start the streamed completion, retrying retryable failures with backoff."""
        attempts = self.settings.llm_max_retries + 1
        for attempt in range(attempts):
            try:
                return await self._create(messages)
            except openai.APIError as exc:
                if not is_retryable(exc) or attempt == attempts - 1:
                    raise self._failed(exc) from exc
                LLM_ERRORS.labels(self.provider, error_kind(exc)).inc()
                base = self.settings.llm_retry_backoff_seconds
                await asyncio.sleep(backoff_delay(attempt, base, random.random()))  # noqa: S311
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _create(self, messages: list[Message]) -> openai.AsyncStream[ChatCompletionChunk]:
        params: Any = messages  # plain role/content dicts are valid message params
        return await self.client.chat.completions.create(
            model=self.model,
            messages=params,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=self.settings.llm_max_tokens,
            extra_headers=telemetry.trace_headers(),
        )

    def _failed(self, exc: openai.APIError) -> errors.LLMUnavailable:
        """Count a failed call (metrics, breaker) and turn it into a 503 for the client."""
        LLM_ERRORS.labels(self.provider, error_kind(exc)).inc()
        self.breaker.record_failure()
        return errors.LLMUnavailable(UNAVAILABLE, retry_after=self.breaker.retry_after())

    async def _deltas(
        self, stream: openai.AsyncStream[ChatCompletionChunk], messages: list[Message]
    ) -> AsyncIterator[AnswerDelta]:
        """Text deltas, then one final delta with usage (reported, or estimated if absent)."""
        usage: Usage | None = None
        produced: list[str] = []
        async for chunk in stream:
            if chunk.usage is not None:
                usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            text = chunk.choices[0].delta.content if chunk.choices else None
            if text:
                produced.append(text)
                yield AnswerDelta(text=text)
        if usage is None:
            completion = estimate_tokens("".join(produced))
            usage = Usage(estimate_prompt_tokens(messages), completion)
        yield AnswerDelta(text="", usage=usage)
