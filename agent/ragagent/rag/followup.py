"""Follow-up questions made standalone for retrieval, without an LLM (deterministic).

"And how long is their refund window?" retrieves nothing useful alone: "their"
points into the conversation. A follow-up (short, or opening like a continuation,
or leaning on a pronoun) is searched together with the previous user question,
which names what it is about. The question the answerer sees is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragagent.core import models

# At most this many words and a question is taken to lean on the one before.
SHORT_WORDS = 4
_CONTINUATION = re.compile(r"^(and|but|also|what about|how about|then)\b", re.IGNORECASE)
_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|theirs|this|that|these|those|there|he|she|his|her)\b",
    re.IGNORECASE,
)


def is_followup(question: str) -> bool:
    """True when the question reads as a continuation of the conversation."""
    text = question.strip()
    return (
        len(text.split()) <= SHORT_WORDS
        or _CONTINUATION.match(text) is not None
        or _PRONOUN.search(text) is not None
    )


def build_search_query(question: str, history: Sequence[models.ChatTurn]) -> str:
    """The text to retrieve with: the previous user question, then this one, for a
    follow-up; the question alone otherwise or when there is no earlier question."""
    previous = next((t.content for t in reversed(history) if t.role == "user"), None)
    if previous is None or not is_followup(question):
        return question
    return f"{previous.strip()} {question.strip()}"
