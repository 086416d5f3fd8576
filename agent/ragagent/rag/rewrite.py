"""Follow-up questions rewritten into standalone search queries.

"How many days does the window last?" asked after "What is Globex's refund
policy?" retrieves the wrong company's policy on its own. With an LLM provider,
a question asked after an earlier one is rewritten by a short, unstreamed
completion that sees the recent conversation; with the extractive answerer, or
when the rewrite fails, times out or says nothing usable, ``followup`` expands
the question deterministically with the previous one. Only retrieval uses the
rewrite: the answerer still sees the question the user asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ragagent.core import models
from ragagent.rag import followup
from ragagent.rag.prompts import Message, trim_history
from ragagent.rag.types import LLM, Usage

# A search query, not an answer: enough for a long question, and a cap on what a
# rambling model can cost.
MAX_TOKENS = 96
MAX_QUERY_CHARS = 600
# The recent conversation the rewrite sees; older turns rarely name what "it" is.
HISTORY_TURNS = 6
HISTORY_TOKENS = 800

SYSTEM_PROMPT = (
    "You rewrite the last question of a conversation into one standalone search query "
    "for a knowledge base. Resolve pronouns and references to earlier turns by naming "
    "what they refer to, and keep the question's own terms. Do not answer the question. "
    "Reply with the query only, on one line, without quotes or explanations. If the "
    "question already stands alone, reply with it unchanged."
)

Method = Literal["none", "expansion", "llm"]


@dataclass(frozen=True)
class SearchQuery:
    """The text to retrieve with, how it was made, and the tokens the rewrite cost."""

    text: str
    method: Method
    usage: Usage | None = None


def build_rewrite_messages(question: str, history: Sequence[models.ChatTurn]) -> list[Message]:
    """The rewrite prompt: instructions, then the recent turns and the question as one
    transcript (data for the rewrite, never replayed as the model's own turns)."""
    turns = trim_history(history, budget=HISTORY_TOKENS, max_turns=HISTORY_TURNS)
    lines = [f"{turn.role}: {' '.join(turn.content.split())}" for turn in turns]
    transcript = "\n".join(lines)
    content = f"Conversation:\n{transcript}\n\nLast question: {' '.join(question.split())}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}]


def clean_rewrite(text: str) -> str | None:
    """The model's reply as a one-line query, or None when it is empty or too long to
    be a query (a model that answered instead of rewriting)."""
    line = " ".join(text.split()).strip("\"'` ")
    if not line or len(line) > MAX_QUERY_CHARS:
        return None
    return line


async def search_query(
    llm: LLM,
    question: str,
    history: Sequence[models.ChatTurn],
    *,
    use_llm: bool,
    timeout_seconds: float,
) -> SearchQuery:
    """What to retrieve with for ``question`` asked after ``history``."""
    if not any(turn.role == "user" for turn in history):
        return SearchQuery(question, "none")
    expansion = followup.build_search_query(question, history)
    fallback = SearchQuery(expansion, "none" if expansion == question else "expansion")
    if not use_llm:
        return fallback
    messages = build_rewrite_messages(question, history)
    completion = await llm.complete(
        messages, max_tokens=MAX_TOKENS, timeout_seconds=timeout_seconds
    )
    if completion is None:
        return fallback
    rewritten = clean_rewrite(completion.text)
    if rewritten is None:
        return SearchQuery(fallback.text, fallback.method, completion.usage)
    return SearchQuery(rewritten, "llm", completion.usage)
