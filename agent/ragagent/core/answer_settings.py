"""The agent's settings for when to answer at all: the relevance a passage needs.

A part of ``config.Settings`` (one of its base classes). Import-light like ``config``:
the operator's image imports it without the agent's dependencies.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class AnswerSettings(BaseSettings):
    """Declining to answer ("I don't know") when nothing retrieved is relevant enough, and
    how a follow-up question is made standalone before retrieval."""

    answer_min_similarity: float = Field(
        0.40,
        ge=0.0,
        le=1.0,
        description="Cosine similarity (0 to 1) between the question and its best retrieved "
        "passage below which the agent answers that it does not know, cites nothing and calls "
        "no LLM. 0 never declines. The default is the largest threshold that wrongly declined "
        "at most 1 % of the answerable questions of `make eval` (all-MiniLM-L6-v2).",
    )
    followup_rewrite: bool = Field(
        True,
        description="With an LLM provider, a question asked after an earlier one is rewritten "
        "into a standalone search query by a short LLM call (its tokens count against the "
        "caller's budget). Off, or with the extractive answerer, or when the call fails, the "
        "question is searched together with the previous one.",
    )
    followup_rewrite_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=60,
        description="How long a follow-up rewrite may take before retrieval goes on with the "
        "deterministic expansion instead.",
    )
