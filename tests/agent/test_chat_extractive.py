"""The offline extractive answerer: quotes relevant sentences with [n] markers."""

from __future__ import annotations

from ragagent.rag.extractive import NOTHING_FOUND, ExtractiveLLM, build_answer, split_sentences
from ragagent.rag.types import RetrievedChunk
from tests.agent import documents


def chunk(n: int, text: str) -> RetrievedChunk:
    return documents.retrieved(n, text)


PASSAGES = [
    chunk(1, "The weather is nice today. Bananas are yellow."),
    chunk(2, "# Storage\nRagAgent stores chunks in PostgreSQL with pgvector. It is fast."),
]


def test_answer_quotes_the_matching_sentence_with_its_citation_marker() -> None:
    answer = build_answer("Where does RagAgent store chunks?", PASSAGES)
    assert "RagAgent stores chunks in PostgreSQL with pgvector. [2]" in answer
    assert "Bananas" not in answer


def test_answer_says_plainly_when_there_are_no_passages() -> None:
    assert build_answer("Anything?", []) == NOTHING_FOUND


def test_answer_says_plainly_when_no_passage_shares_a_word_with_the_question() -> None:
    assert build_answer("quantum chromodynamics", PASSAGES) == NOTHING_FOUND


def test_answer_is_deterministic() -> None:
    question = "Which colour are bananas, and what stores chunks?"
    assert build_answer(question, PASSAGES) == build_answer(question, PASSAGES)


def test_answer_keeps_sentences_in_document_order_across_chunks() -> None:
    answer = build_answer("bananas yellow pgvector chunks", PASSAGES)
    assert answer.index("[1]") < answer.index("[2]")


def test_sentences_split_on_punctuation_and_markdown_headings() -> None:
    assert split_sentences("# Title\nFirst one. Second one!") == [
        "Title",
        "First one.",
        "Second one!",
    ]


async def test_stream_yields_the_answer_word_by_word_then_usage() -> None:
    llm = ExtractiveLLM()
    deltas = [
        d async for d in llm.stream(question="What stores chunks?", history=[], chunks=PASSAGES)
    ]
    text = "".join(d.text for d in deltas)
    assert text == build_answer("What stores chunks?", PASSAGES)
    assert len(deltas) > 5
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.completion_tokens > 0
    assert all(d.usage is None for d in deltas[:-1])
