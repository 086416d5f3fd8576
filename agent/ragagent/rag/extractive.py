"""The offline, deterministic answerer: it quotes the best retrieved sentences.

No model is involved. Each sentence of the top chunks is scored by how many
distinct question terms it contains (stop words ignored), with a small bonus
for the chunk's retrieval rank; the best few are quoted with ``[n]`` markers
that match the citation list (markers inside the quoted text become ``(n)``).
When there are no chunks, or no sentence shares a term with the question, the
answer says so plainly instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from ragagent.core import models
from ragagent.rag.prompts import estimate_tokens, neutralise_markers
from ragagent.rag.types import AnswerDelta, Completion, RetrievedChunk, Usage

MAX_SENTENCES = 3
MAX_SENTENCE_CHARS = 400
NOTHING_FOUND = (
    "I could not find anything relevant to your question in the knowledge base. "
    "Try rephrasing it, or add documents that cover this topic."
)

_WORD = re.compile(r"[a-z0-9]+(?:[-_'][a-z0-9]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_BLOCK_START = re.compile(r"^(#{1,6}\s|[-*+>|]\s?|\d+[.)]\s)")
_STOP_WORDS_TEXT = """a an and are as at be by can do does did for from has have how i in is it its
    me my of on or so that the their them then there these this to was we what when
    where which who why will with you your about into than does not no yes if"""
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


@dataclass(frozen=True)
class _Candidate:
    score: float
    rank: int
    position: int
    text: str


def terms(text: str) -> set[str]:
    """Lower-cased content words, with a crude plural fold so 'chunks' meets 'chunk'."""
    words = {_fold(word) for word in _WORD.findall(text.lower())}
    return {word for word in words if word not in _STOP_WORDS and len(word) > 1}


def _fold(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _units(text: str) -> list[str]:
    """Headings, list items and paragraphs: a Markdown line break only ends a unit
    when the next line starts a block, since paragraphs are often hard-wrapped."""
    units: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or _BLOCK_START.match(stripped) or not units or units[-1] == "":
            units.append(_BLOCK_START.sub("", stripped).strip())
        else:
            units[-1] += " " + stripped
        if not stripped or stripped.startswith("#"):
            units.append("")  # a blank line or a heading ends the unit
    return [unit for unit in units if unit]


def split_sentences(text: str) -> list[str]:
    """Sentences of a chunk: headings, list items and paragraph sentences, one per entry."""
    sentences = (s.strip() for unit in _units(text) for s in _SENTENCE_END.split(unit))
    return [" ".join(sentence.split()) for sentence in sentences if len(sentence.strip()) > 2]


def _candidates(question_terms: set[str], chunks: Sequence[RetrievedChunk]) -> list[_Candidate]:
    found = []
    for rank, chunk in enumerate(chunks):
        for position, sentence in enumerate(split_sentences(chunk.text)):
            overlap = len(question_terms & terms(sentence))
            if overlap:
                score = overlap + 0.5 / (rank + 1)
                found.append(_Candidate(score, rank, position, sentence))
    return found


def _clip(sentence: str) -> str:
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return sentence
    return sentence[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0] + " …"


def build_answer(question: str, chunks: Sequence[RetrievedChunk]) -> str:
    """The full extractive answer: best sentences in document order, each with ``[n]``."""
    best = sorted(
        _candidates(terms(question), chunks), key=lambda c: (-c.score, c.rank, c.position)
    )[:MAX_SENTENCES]
    if not best:
        return NOTHING_FOUND
    best.sort(key=lambda c: (c.rank, c.position))
    # A quoted sentence's own "[n]" would read as a citation of passage n.
    quoted = " ".join(f"{_clip(neutralise_markers(c.text))} [{c.rank + 1}]" for c in best)
    return f"From the knowledge base: {quoted}"


class ExtractiveLLM:
    """Streams :func:`build_answer` word by word; usage is estimated from characters."""

    provider = "extractive"
    model = "extractive"

    async def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, timeout_seconds: float
    ) -> Completion | None:
        """No model to ask: side tasks use their deterministic way instead."""
        return None

    async def stream(
        self, *, question: str, history: Sequence[models.ChatTurn], chunks: Sequence[RetrievedChunk]
    ) -> AsyncIterator[AnswerDelta]:
        answer = build_answer(question, chunks)
        words = answer.split(" ")
        for index, word in enumerate(words):
            yield AnswerDelta(text=word if index == len(words) - 1 else word + " ")
        prompt = question + "".join(chunk.text for chunk in chunks)
        yield AnswerDelta(
            text="",
            usage=Usage(
                prompt_tokens=estimate_tokens(prompt), completion_tokens=estimate_tokens(answer)
            ),
        )
