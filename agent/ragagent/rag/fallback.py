"""The answerer a chat turn uses: LLM providers in order, then the extractive one.

``FallbackLLM`` tries the primary provider, then each fallback. A provider that fails
before streaming any text (refused connection, 5xx after its retries, timeout, its
circuit breaker open) hands the turn to the next one; each provider has its own
breaker, so a dead one is skipped at once. When every provider has failed, the
offline extractive answerer answers and its last delta is marked ``degraded``: a
chat never gets a 503 because of the LLM.

A provider that fails *after* text was streamed is not replaced: the next provider
would start a different answer, and splicing it onto what the user already read
would be silent nonsense. The answer ends where it broke, its last delta marked
``incomplete`` and ``degraded``, and it is stored with that flag.

Reachability (for /readyz) is probed in the background every
``llm_probe_interval_seconds`` by ``probe_forever``; readiness reads
``reachable_count`` and never waits on a provider.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from ragagent.core import errors, models
from ragagent.core.config import Settings
from ragagent.core.metrics import DEGRADED_ANSWERS, LLM_FALLBACKS, LLM_PROVIDERS_REACHABLE
from ragagent.rag import llm
from ragagent.rag.extractive import ExtractiveLLM
from ragagent.rag.prompts import estimate_tokens
from ragagent.rag.types import LLM, AnswerDelta, Completion, RetrievedChunk, Usage

log = logging.getLogger(__name__)


def create_llm(settings: Settings) -> LLM:
    """The answerer Settings ask for: the offline one, or the providers with fallback."""
    specs = llm.build_provider_specs(settings)
    if not specs:
        return ExtractiveLLM()
    providers = [llm.OpenAIChatLLM.from_settings(settings, spec) for spec in specs]
    names = [spec.name for spec in specs]
    return FallbackLLM(providers=providers, names=names)


@dataclass(kw_only=True)
class FallbackLLM:
    """OpenAI-compatible providers in order, with the extractive answerer as last resort."""

    providers: list[llm.OpenAIChatLLM]
    names: list[str]  # "primary", "fallback_1", ...: one per provider
    extractive: ExtractiveLLM = field(default_factory=ExtractiveLLM)
    # Per provider: the last probe's answer; None until the first probe finishes.
    reachable: list[bool | None] = field(default_factory=list)

    provider = "openai"

    @property
    def model(self) -> str:
        """The primary provider's model (metrics and spans label turns with it)."""
        return self.providers[0].model

    @property
    def primary(self) -> llm.OpenAIChatLLM:
        return self.providers[0]

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()

    async def stream(
        self, *, question: str, history: Sequence[models.ChatTurn], chunks: Sequence[RetrievedChunk]
    ) -> AsyncIterator[AnswerDelta]:
        for name, provider in zip(self.names, self.providers, strict=True):
            produced: list[str] = []
            try:
                async for delta in provider.stream(
                    question=question, history=history, chunks=chunks
                ):
                    produced.append(delta.text)
                    yield delta
                return
            except errors.LLMUnavailable:
                if any(produced):
                    yield _broken_off(question, chunks, "".join(produced))
                    return
                log.warning("LLM provider %s failed; trying the next one", name)
                LLM_FALLBACKS.labels(name).inc()
        DEGRADED_ANSWERS.labels("all_providers_failed").inc()
        async for delta in self.extractive.stream(
            question=question, history=history, chunks=chunks
        ):
            yield AnswerDelta(text=delta.text, usage=delta.usage, degraded=delta.usage is not None)

    async def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, timeout_seconds: float
    ) -> Completion | None:
        """The first provider whose breaker is closed answers; one failure ends the try
        (a side task must not add a timeout per provider to the turn)."""
        for provider in self.providers:
            if provider.breaker.state == "closed":
                return await provider.complete(
                    messages, max_tokens=max_tokens, timeout_seconds=timeout_seconds
                )
        return None

    async def probe(self) -> list[bool]:
        """Check every provider at once and remember the answers."""
        results = await asyncio.gather(*(p.is_reachable() for p in self.providers))
        self.reachable = list(results)
        LLM_PROVIDERS_REACHABLE.set(sum(results))
        return self.reachable_now()

    def reachable_now(self) -> list[bool]:
        return [bool(answer) for answer in self.reachable]

    def readiness(self) -> str:
        """``ok`` unless the last probe found no provider at all; ``ok`` before it ran,
        so a slow first probe does not hold a new pod out of service."""
        if not self.reachable or any(self.reachable):
            return "ok"
        return f"none of {len(self.providers)} LLM provider(s) reachable"

    async def probe_forever(self, interval_seconds: float) -> None:
        """Probe every ``interval_seconds`` until cancelled; one failed probe is logged."""
        while True:
            try:
                await self.probe()
            except Exception:  # a bug in one probe must not end the loop
                log.exception("LLM reachability probe failed")
            await asyncio.sleep(interval_seconds)


def _broken_off(question: str, chunks: Sequence[RetrievedChunk], text: str) -> AnswerDelta:
    """The last delta of an answer whose provider failed mid-stream (usage estimated)."""
    DEGRADED_ANSWERS.labels("mid_stream").inc()
    prompt = question + "".join(chunk.text for chunk in chunks)
    usage = Usage(estimate_tokens(prompt), estimate_tokens(text))
    return AnswerDelta(text="", usage=usage, degraded=True, incomplete=True)
