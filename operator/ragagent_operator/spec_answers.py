"""The RagAgent's ``answers`` section: when the agent declines, and how it reads follow-ups.

The defaults are the agent's own (``AnswerSettings``), so the CRD and the agent cannot
disagree about what an unset field means.
"""

from __future__ import annotations

from pydantic import Field

from ragagent.core.answer_settings import AnswerSettings
from ragagent_operator import spec_base

_AGENT = AnswerSettings.model_fields


class Answers(spec_base.ApiModel):
    min_similarity: float = Field(
        _AGENT["answer_min_similarity"].default,
        ge=0.0,
        le=1.0,
        description="Cosine similarity (0 to 1) of the best retrieved passage below which the "
        "agent answers that it does not know, cites nothing and calls no LLM; 0 never "
        "declines. The default was calibrated with `make eval` for all-MiniLM-L6-v2: "
        "recalibrate it for another embedding model.",
    )
    rewrite_follow_ups: bool = Field(
        _AGENT["followup_rewrite"].default,
        description="With an LLM provider, rewrite a question asked after an earlier one into "
        "a standalone search query with a short LLM call (its tokens count against the "
        "caller's budget); otherwise the question is searched with the previous one.",
    )
